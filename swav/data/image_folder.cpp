// Image folders: JPEG (libturbojpeg) and PNG (libpng's simplified API) decoding, in parallel.
#include <png.h>
#include <turbojpeg.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <fstream>

#include "swav/data/decode.h"
#include "swav/data/folder_listing.h"
#include "swav/data/parallel.h"
#include "swav/data/resample.h"
#include "swav/util/error.h"

namespace swav {
namespace fs = std::filesystem;

namespace {

bool has_image_extension(const fs::path& path) {
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png";
}

bool is_hidden(const fs::path& path) {
  return path.filename().string().rfind('.', 0) == 0;
}

// Antialiased bilinear resize of a uint8 [h, w, C] image to [side, side, C].
void resize_into(const torch::Tensor& image, int64_t side, uint8_t* out,
                 data::ResampleScratch& scratch, std::vector<float>& planar) {
  const int64_t h = image.size(0), w = image.size(1), C = image.size(2);
  planar.resize(C * side * side);
  data::resample_box_to_planar(image.data_ptr<uint8_t>(), w, C, 0, 0, h, w, side, side, false, 1.0f,
                               planar.data(), scratch);
  for (int64_t p = 0; p < side * side; ++p) {
    for (int64_t c = 0; c < C; ++c) {
      const float v = std::nearbyint(planar[c * side * side + p]);
      out[p * C + c] = static_cast<uint8_t>(std::clamp(v, 0.0f, 255.0f));
    }
  }
}

}  // namespace

namespace data {

std::vector<unsigned char> read_file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) fail("cannot open {}", path);
  const std::streamsize size = in.tellg();
  std::vector<unsigned char> bytes(static_cast<size_t>(std::max<std::streamsize>(size, 0)));
  in.seekg(0);
  if (size > 0 && !in.read(reinterpret_cast<char*>(bytes.data()), size))
    fail("cannot read {}", path);
  return bytes;
}

/// Why a header's size cannot be believed, or "" when it can. The decoded image is allocated before
/// decoding, so a corrupt header of a few bytes could otherwise ask for gigabytes (found by
/// fuzz/fuzz_image.cpp: a 40-byte JPEG claiming 65535 x 65535). Neither format compresses a photo,
/// or even a flat colour, by more than about 1:1000 in pixels per byte; and 2^28 pixels (268 MP) is
/// far above any training image.
std::string implausible_size(int64_t width, int64_t height, size_t file_bytes) {
  // Each side first: a PNG header's 32-bit sides multiplied could overflow (found by fuzz_image).
  constexpr int64_t kMostPixels = int64_t{1} << 28;
  if (width > kMostPixels || height > kMostPixels || width * height > kMostPixels)
    return fmt::format("{} x {} pixels is more than this reader accepts (2^28)", width, height);
  const int64_t pixels = width * height;
  const int64_t most = std::max<int64_t>(int64_t{1} << 20, 1024 * static_cast<int64_t>(file_bytes));
  if (pixels > most)
    return fmt::format("a header claiming {} x {} pixels in a file of {} bytes is corrupt", width,
                       height, file_bytes);
  return "";
}

torch::Tensor decode_jpeg(const std::string& path, const std::vector<unsigned char>& bytes) {
  tjhandle handle = tjInitDecompress();
  if (handle == nullptr) fail("{}: cannot initialise the JPEG decoder", path);
  struct Closer {
    tjhandle h;
    ~Closer() { tjDestroy(h); }
  } closer{handle};
  int width = 0, height = 0, subsampling = 0, colorspace = 0;
  auto* data = const_cast<unsigned char*>(bytes.data());
  const auto size = static_cast<unsigned long>(bytes.size());
  if (tjDecompressHeader3(handle, data, size, &width, &height, &subsampling, &colorspace) != 0) {
    fail("{}: corrupt JPEG ({})", path, tjGetErrorStr2(handle));
  }
  if (width < 1 || height < 1) fail("{}: JPEG has an empty image", path);
  if (const auto why = implausible_size(width, height, bytes.size()); !why.empty())
    fail("{}: corrupt JPEG ({})", path, why);
  if (colorspace == TJCS_CMYK || colorspace == TJCS_YCCK) {
    // TurboJPEG converts no CMYK to RGB; libjpeg's own interface gives the inks and whether they
    // are stored inverted (Adobe's), converted as Pillow converts them.
    DecodedRegion whole = decode_region(path, bytes, PixelBox{0, 0, height, width}, 1);
    auto image = torch::empty({height, width, 3}, torch::kUInt8);
    std::memcpy(image.data_ptr<uint8_t>(), whole.pixels.data(), whole.pixels.size());
    return image;
  }
  auto image = torch::empty({height, width, 3}, torch::kUInt8);
  // Warnings (e.g. a truncated stream) fail too: a half-gray image would be silently wrong data.
  if (tjDecompress2(handle, data, size, image.data_ptr<uint8_t>(), width, 0, height, TJPF_RGB, 0) !=
      0) {
    fail("{}: corrupt JPEG ({})", path, tjGetErrorStr2(handle));
  }
  return image;
}

torch::Tensor decode_png(const std::string& path, const std::vector<unsigned char>& bytes) {
  png_image png;
  std::memset(&png, 0, sizeof(png));
  png.version = PNG_IMAGE_VERSION;
  if (png_image_begin_read_from_memory(&png, bytes.data(), bytes.size()) == 0) {
    fail("{}: corrupt PNG ({})", path, png.message);
  }
  if (const auto why = implausible_size(png.width, png.height, bytes.size()); !why.empty()) {
    png_image_free(&png);
    fail("{}: corrupt PNG ({})", path, why);
  }
  png.format = PNG_FORMAT_RGB;  // gray expands to RGB; alpha is composited onto black
  auto image = torch::empty({static_cast<int64_t>(png.height), static_cast<int64_t>(png.width), 3},
                            torch::kUInt8);
  const png_color black{0, 0, 0};
  if (png_image_finish_read(&png, &black, image.data_ptr<uint8_t>(), 0, nullptr) == 0) {
    const std::string message = png.message;
    png_image_free(&png);
    fail("{}: corrupt PNG ({})", path, message);
  }
  return image;
}

torch::Tensor decode_image_bytes(const std::string& path, const std::vector<unsigned char>& bytes) {
  if (is_png(bytes)) return decode_png(path, bytes);
  if (is_jpeg(bytes)) return decode_jpeg(path, bytes);
  fail("{}: not a JPEG or PNG file (unrecognised signature)", path);
}

}  // namespace data

torch::Tensor decode_image_file(const std::string& path) {
  return data::decode_image_bytes(path, data::read_file_bytes(path));
}

namespace data {

FolderListing list_image_folder(const std::string& folder) {
  std::error_code ec;
  if (!fs::is_directory(folder, ec))
    fail("image folder {} does not exist or is not a directory", folder);
  FolderListing listing;
  listing.folder = fs::absolute(folder).lexically_normal();
  std::vector<fs::path> class_dirs;
  for (const auto& entry : fs::directory_iterator(folder)) {
    if (entry.is_directory() && !is_hidden(entry.path())) class_dirs.push_back(entry.path());
  }
  std::sort(class_dirs.begin(), class_dirs.end(), [](const fs::path& a, const fs::path& b) {
    return a.filename().string() < b.filename().string();
  });
  if (class_dirs.empty()) fail("image folder {} has no class sub-folders", folder);
  for (size_t label = 0; label < class_dirs.size(); ++label) {
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(class_dirs[label])) {
      if (entry.is_regular_file() && !is_hidden(entry.path()) &&
          has_image_extension(entry.path())) {
        files.push_back(entry.path());
      }
    }
    if (files.empty())
      fail("class folder {} has no .jpg, .jpeg or .png file", class_dirs[label].string());
    std::sort(files.begin(), files.end(), [](const fs::path& a, const fs::path& b) {
      return a.filename().string() < b.filename().string();
    });
    listing.class_names.push_back(class_dirs[label].filename().string());
    for (auto& f : files) {
      listing.files.push_back(std::move(f));
      listing.labels.push_back(static_cast<int64_t>(label));
    }
  }
  return listing;
}

ImageSet decode_listing(const FolderListing& listing, int64_t image_size) {
  const auto N = static_cast<int64_t>(listing.files.size());
  int64_t H = image_size, W = image_size;
  torch::Tensor first;
  if (image_size <= 0) {
    first = decode_image_file(listing.files[0].string());
    H = first.size(0);
    W = first.size(1);
  }
  ImageSet set;
  set.images = torch::empty({N, H, W, 3}, torch::kUInt8);
  uint8_t* images = set.images.data_ptr<uint8_t>();
  const int64_t image_bytes = H * W * 3;

  // Files are handed out in listing order, and the error reported is that of the first bad file.
  struct Scratch {
    data::ResampleScratch resample;
    std::vector<float> planar;
  };
  data::run_tasks(
      N, data::default_threads(), 1, [] { return Scratch{}; },
      [&](int64_t i, Scratch& scratch) {
        const std::string path = listing.files[i].string();
        const torch::Tensor image = (i == 0 && first.defined()) ? first : decode_image_file(path);
        if (image_size > 0) {
          resize_into(image, image_size, images + i * image_bytes, scratch.resample,
                      scratch.planar);
        } else if (image.size(0) != H || image.size(1) != W) {
          fail("{} is {}x{} but {} is {}x{}; set data.image_size to resize every image", path,
               image.size(1), image.size(0), listing.files[0].string(), W, H);
        } else {
          std::memcpy(images + i * image_bytes, image.data_ptr<uint8_t>(), image_bytes);
        }
      });

  set.labels = torch::tensor(listing.labels, torch::kInt64);
  set.num_classes = static_cast<int64_t>(listing.class_names.size());
  set.class_names = listing.class_names;
  set.description = fmt::format("image_folder:{} ({} x {}x{}x3)", listing.folder.string(), N, H, W);
  return set;
}

}  // namespace data

ImageSet read_image_folder(const std::string& folder, int64_t image_size) {
  return data::decode_listing(data::list_image_folder(folder), image_size);
}

}  // namespace swav
