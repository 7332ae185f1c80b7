// Writers for small data files in the data tests (IDX, CIFAR, JPEG, PNG).
#pragma once
#include <png.h>
#include <torch/torch.h>
#include <turbojpeg.h>
#include <zlib.h>

#include <cstring>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "swav/util/error.h"

namespace swav::test {

inline void put_be32(std::vector<unsigned char>& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<unsigned char>(v >> shift));
}

/// Writes bytes with gzip (path ending in .gz) or plainly.
inline void write_maybe_gz(const std::string& path, const std::vector<unsigned char>& bytes) {
  if (path.size() > 3 && path.compare(path.size() - 3, 3, ".gz") == 0) {
    gzFile f = gzopen(path.c_str(), "wb");
    if (f == nullptr) throw std::runtime_error("cannot write " + path);
    gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
    gzclose(f);
  } else {
    std::ofstream(path, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()),
               static_cast<std::streamsize>(bytes.size()));
  }
}

/// IDX image file: magic 0x803, n, rows, cols, then the pixels.
inline std::vector<unsigned char> idx_images(const torch::Tensor& images_nhw) {
  std::vector<unsigned char> out;
  put_be32(out, 0x803);
  for (int d = 0; d < 3; ++d) put_be32(out, static_cast<uint32_t>(images_nhw.size(d)));
  auto t = images_nhw.contiguous();
  out.insert(out.end(), t.data_ptr<uint8_t>(), t.data_ptr<uint8_t>() + t.numel());
  return out;
}

/// IDX label file: magic 0x801, n, then the labels.
inline std::vector<unsigned char> idx_labels(const std::vector<uint8_t>& labels) {
  std::vector<unsigned char> out;
  put_be32(out, 0x801);
  put_be32(out, static_cast<uint32_t>(labels.size()));
  out.insert(out.end(), labels.begin(), labels.end());
  return out;
}

/// PNG from uint8 [H, W, C] (C = 1 gray, 3 RGB) with libpng's simplified API.
inline void write_png(const std::string& path, const torch::Tensor& image_hwc) {
  auto t = image_hwc.contiguous();
  png_image png;
  std::memset(&png, 0, sizeof(png));
  png.version = PNG_IMAGE_VERSION;
  png.width = static_cast<png_uint_32>(t.size(1));
  png.height = static_cast<png_uint_32>(t.size(0));
  png.format = t.size(2) == 1 ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
  if (png_image_write_to_file(&png, path.c_str(), 0, t.data_ptr<uint8_t>(), 0, nullptr) == 0) {
    throw std::runtime_error("cannot write " + path);
  }
}

/// JPEG from uint8 [H, W, 3] with libturbojpeg, 4:4:4 at the given quality.
inline void write_jpeg(const std::string& path, const torch::Tensor& image_hwc, int quality = 95) {
  auto t = image_hwc.contiguous();
  tjhandle handle = tjInitCompress();
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  const int rc =
      tjCompress2(handle, t.data_ptr<uint8_t>(), static_cast<int>(t.size(1)), 0,
                  static_cast<int>(t.size(0)), TJPF_RGB, &buffer, &size, TJSAMP_444, quality, 0);
  if (rc != 0) throw std::runtime_error("tjCompress2 failed");
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(buffer), size);
  tjFree(buffer);
  tjDestroy(handle);
}

}  // namespace swav::test

namespace swav::test {

/// The message of the swav::UserError that `f` throws, or a note that it threw none (other
/// exception types propagate and fail the test).
template <typename F>
std::string user_error(F&& f) {
  try {
    f();
  } catch (const swav::UserError& e) {
    return e.what();
  }
  return "<no UserError thrown>";
}

}  // namespace swav::test
