// On-disk uint8 cache of decoded image folders.
//
// File layout (little-endian host order; the cache is a local speed-up, not an exchange format):
//   "SWAVIMGC" | u32 version | u64 key | i64 N, H, W, C, num_classes |
//   per class: u32 length, name bytes | i64 labels[N] | u8 images[N*H*W*C] | u32 crc32 of all the
//   bytes after the version field.
// Nothing in a cache file is trusted: a wrong magic, version, key, size or checksum means
// "rebuild".
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <random>
#include <sstream>

#include "swav/data/folder_listing.h"
#include "swav/data/rng.h"
#include "swav/util/error.h"

namespace swav {
namespace fs = std::filesystem;

namespace {

constexpr char kMagic[8] = {'S', 'W', 'A', 'V', 'I', 'M', 'G', 'C'};
constexpr uint32_t kVersion = 1;

uint64_t hash_bytes(uint64_t h, const void* data, size_t n) {
  // FNV-1a, then the running value is remixed per field by hash_field.
  const auto* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 0x100000001B3ull;
  return h;
}

uint64_t hash_field(uint64_t h, const std::string& s) {
  const uint64_t length = s.size();
  h = hash_bytes(h, &length, sizeof(length));
  return data::mix64(hash_bytes(h, s.data(), s.size()));
}

uint64_t hash_field(uint64_t h, int64_t v) {
  return data::mix64(hash_bytes(h, &v, sizeof(v)));
}

uint64_t cache_key(const data::FolderListing& listing, int64_t image_size) {
  uint64_t h = 0xCBF29CE484222325ull;
  h = hash_field(h, std::string("swav-bench image folder cache"));
  h = hash_field(h, listing.folder.string());
  h = hash_field(h, image_size);
  for (size_t i = 0; i < listing.files.size(); ++i) {
    const auto& file = listing.files[i];
    std::error_code ec;
    const auto size = static_cast<int64_t>(fs::file_size(file, ec));
    const auto mtime =
        static_cast<int64_t>(fs::last_write_time(file, ec).time_since_epoch().count());
    h = hash_field(h, file.lexically_relative(listing.folder).string());
    h = hash_field(h, listing.labels[i]);
    h = hash_field(h, size);
    h = hash_field(h, mtime);
  }
  return h;
}

// Stream helpers that keep a running crc32 of what passes through.
class CrcWriter {
 public:
  explicit CrcWriter(std::ofstream& out) : out_(out) {}
  void write(const void* data, size_t n) {
    out_.write(static_cast<const char*>(data), static_cast<std::streamsize>(n));
    crc_ = crc32_z(crc_, static_cast<const Bytef*>(data), n);
  }
  template <typename T>
  void put(T v) {
    write(&v, sizeof(v));
  }
  uint32_t crc() const { return static_cast<uint32_t>(crc_); }

 private:
  std::ofstream& out_;
  uLong crc_ = crc32_z(0, nullptr, 0);
};

class CrcReader {
 public:
  explicit CrcReader(std::ifstream& in) : in_(in) {}
  bool read(void* data, size_t n) {
    if (!in_.read(static_cast<char*>(data), static_cast<std::streamsize>(n))) return false;
    crc_ = crc32_z(crc_, static_cast<const Bytef*>(data), n);
    return true;
  }
  template <typename T>
  bool get(T& v) {
    return read(&v, sizeof(v));
  }
  uint32_t crc() const { return static_cast<uint32_t>(crc_); }

 private:
  std::ifstream& in_;
  uLong crc_ = crc32_z(0, nullptr, 0);
};

// Returns the cached set, or nothing (with `problem` set when the file exists but is unusable).
std::optional<ImageSet> read_cache(const fs::path& path, uint64_t key, std::string& problem) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::error_code ec;
  const auto file_bytes = static_cast<int64_t>(fs::file_size(path, ec));
  char magic[8];
  uint32_t version = 0;
  if (!in.read(magic, 8) || std::memcmp(magic, kMagic, 8) != 0 ||
      !in.read(reinterpret_cast<char*>(&version), sizeof(version)) || version != kVersion) {
    problem = "bad header";
    return std::nullopt;
  }
  CrcReader reader(in);
  uint64_t stored_key = 0;
  int64_t N = 0, H = 0, W = 0, C = 0, K = 0;
  if (!reader.get(stored_key) || !reader.get(N) || !reader.get(H) || !reader.get(W) ||
      !reader.get(C) || !reader.get(K)) {
    problem = "truncated header";
    return std::nullopt;
  }
  if (stored_key != key) {
    problem = "key mismatch";
    return std::nullopt;
  }
  // Bound every size by the file's length before allocating anything.
  const double payload = static_cast<double>(N) * (8.0 + static_cast<double>(H) * W * C);
  if (N < 1 || H < 1 || W < 1 || (C != 1 && C != 3) || K < 1 || K > N ||
      payload > static_cast<double>(file_bytes)) {
    problem = "implausible dimensions";
    return std::nullopt;
  }
  ImageSet set;
  for (int64_t k = 0; k < K; ++k) {
    uint32_t length = 0;
    if (!reader.get(length) || length > 4096) {
      problem = "bad class name";
      return std::nullopt;
    }
    std::string name(length, '\0');
    if (!reader.read(name.data(), length)) {
      problem = "truncated class names";
      return std::nullopt;
    }
    set.class_names.push_back(std::move(name));
  }
  set.labels = torch::empty({N}, torch::kInt64);
  set.images = torch::empty({N, H, W, C}, torch::kUInt8);
  uint32_t stored_crc = 0;
  if (!reader.read(set.labels.data_ptr<int64_t>(), N * sizeof(int64_t)) ||
      !reader.read(set.images.data_ptr<uint8_t>(), N * H * W * C)) {
    problem = "truncated data";
    return std::nullopt;
  }
  const uint32_t crc = reader.crc();
  if (!in.read(reinterpret_cast<char*>(&stored_crc), sizeof(stored_crc)) || stored_crc != crc ||
      in.peek() != std::char_traits<char>::eof()) {
    problem = "checksum mismatch";
    return std::nullopt;
  }
  if (set.labels.min().item<int64_t>() < 0 || set.labels.max().item<int64_t>() >= K) {
    problem = "labels out of range";
    return std::nullopt;
  }
  set.num_classes = K;
  return set;
}

void write_cache(const fs::path& path, uint64_t key, const ImageSet& set) {
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  std::random_device rd;
  const fs::path tmp = path.string() + fmt::format(".tmp.{}.{:08x}", getpid(), rd());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) {
      fmt::print(stderr, "warning: cannot write the image cache {} (continuing without it)\n",
                 tmp.string());
      return;
    }
    out.write(kMagic, 8);
    out.write(reinterpret_cast<const char*>(&kVersion), sizeof(kVersion));
    CrcWriter writer(out);
    writer.put(key);
    for (int64_t v : {set.size(), set.height(), set.width(), set.channels(), set.num_classes}) {
      writer.put(v);
    }
    for (const auto& name : set.class_names) {
      writer.put(static_cast<uint32_t>(name.size()));
      writer.write(name.data(), name.size());
    }
    writer.write(set.labels.data_ptr<int64_t>(), set.size() * sizeof(int64_t));
    writer.write(set.images.data_ptr<uint8_t>(), set.images.numel());
    const uint32_t crc = writer.crc();
    out.write(reinterpret_cast<const char*>(&crc), sizeof(crc));
    out.flush();
    if (!out) {
      out.close();
      fs::remove(tmp, ec);
      fmt::print(stderr, "warning: writing the image cache {} failed (continuing without it)\n",
                 tmp.string());
      return;
    }
  }
  fs::rename(tmp, path, ec);  // atomic: readers see the old file or the whole new one
  if (ec) {
    fs::remove(tmp, ec);
    fmt::print(stderr, "warning: cannot move the image cache into place at {}\n", path.string());
  }
}

// The listing file: a first line "swav-bench listing 1 <key> <classes> <files>", the class names
// one per line, then "<label>\t<path relative to the folder>" per file, then "end".
constexpr const char* kListingHeader = "swav-bench listing 1";

uint64_t listing_key(const fs::path& folder) {
  uint64_t h = 0xCBF29CE484222325ull;
  h = hash_field(h, std::string(kListingHeader));
  h = hash_field(h, folder.string());
  std::vector<fs::path> dirs;
  for (const auto& e : fs::directory_iterator(folder))
    if (e.is_directory()) dirs.push_back(e.path());
  std::sort(dirs.begin(), dirs.end());
  for (const auto& d : dirs) {
    std::error_code ec;
    h = hash_field(h, d.filename().string());
    h = hash_field(h, static_cast<int64_t>(fs::last_write_time(d, ec).time_since_epoch().count()));
  }
  return h;
}

std::optional<data::FolderListing> read_listing(const fs::path& path, const fs::path& folder,
                                                uint64_t key) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::string line;
  if (!std::getline(in, line)) return std::nullopt;
  std::istringstream header(line);
  std::string a, b;
  int version = 0;
  uint64_t stored = 0;
  size_t classes = 0, files = 0;
  if (!(header >> a >> b >> version >> std::hex >> stored >> std::dec >> classes >> files) ||
      fmt::format("{} {} {}", a, b, version) != kListingHeader || stored != key)
    return std::nullopt;
  data::FolderListing listing;
  listing.folder = folder;
  for (size_t i = 0; i < classes; ++i) {
    if (!std::getline(in, line) || line.empty()) return std::nullopt;
    listing.class_names.push_back(line);
  }
  listing.files.reserve(files);
  for (size_t i = 0; i < files; ++i) {
    if (!std::getline(in, line)) return std::nullopt;
    const auto tab = line.find('\t');
    if (tab == std::string::npos || tab == 0 || tab + 1 >= line.size()) return std::nullopt;
    char* end = nullptr;
    const long long label = std::strtoll(line.c_str(), &end, 10);
    if (end != line.c_str() + tab || label < 0 || static_cast<size_t>(label) >= classes)
      return std::nullopt;
    listing.labels.push_back(label);
    listing.files.push_back(folder / line.substr(tab + 1));
  }
  if (!std::getline(in, line) || line != "end" || listing.files.empty()) return std::nullopt;
  return listing;
}

void write_listing(const fs::path& path, uint64_t key, const data::FolderListing& listing) {
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  std::random_device rd;
  const fs::path tmp = path.string() + fmt::format(".tmp.{}.{:08x}", getpid(), rd());
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << fmt::format("{} {:016x} {} {}\n", kListingHeader, key, listing.class_names.size(),
                       listing.files.size());
    for (const auto& name : listing.class_names) out << name << '\n';
    for (size_t i = 0; i < listing.files.size(); ++i)
      out << listing.labels[i] << '\t'
          << listing.files[i].lexically_relative(listing.folder).string() << '\n';
    out << "end\n";
    out.flush();
    if (!out) {
      out.close();
      fs::remove(tmp, ec);
      return;  // a listing that cannot be cached is listed again next time
    }
  }
  fs::rename(tmp, path, ec);
  if (ec) fs::remove(tmp, ec);
}

}  // namespace

namespace data {

FolderListing list_image_folder_cached(const std::string& folder, const std::string& cache_dir) {
  std::error_code ec;
  if (!fs::is_directory(folder, ec))
    fail("image folder {} does not exist or is not a directory", folder);
  const fs::path absolute = fs::absolute(folder).lexically_normal();
  const uint64_t key = listing_key(absolute);
  const fs::path dir = cache_dir.empty() ? fs::path(default_cache_dir()) : fs::path(cache_dir);
  const fs::path path = dir / fmt::format("listing_{:016x}.txt", key);
  if (auto cached = read_listing(path, absolute, key)) return std::move(*cached);
  FolderListing listing = list_image_folder(folder);
  write_listing(path, key, listing);
  return listing;
}

}  // namespace data

std::string default_cache_dir() {
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  if (xdg != nullptr && *xdg != '\0') return (fs::path(xdg) / "swav-bench" / "data").string();
  const char* home = std::getenv("HOME");
  const fs::path base =
      (home != nullptr && *home != '\0') ? fs::path(home) : fs::temp_directory_path();
  return (base / ".cache" / "swav-bench" / "data").string();
}

ImageSet read_image_folder_cached(const std::string& folder, int64_t image_size,
                                  const std::string& cache_dir, bool* cache_hit) {
  const data::FolderListing listing = data::list_image_folder(folder);
  // The line between the cache and streaming: a cache larger than half of this machine's memory
  // could not be held (the set is decoded into memory, then written).
  const double bytes = static_cast<double>(listing.files.size()) * static_cast<double>(image_size) *
                       static_cast<double>(image_size) * 3.0;
  const double memory =
      static_cast<double>(sysconf(_SC_PHYS_PAGES)) * static_cast<double>(sysconf(_SC_PAGE_SIZE));
  if (image_size > 0 && memory > 0 && bytes > memory / 2) {
    fail(
        "image folder {}: decoding its {} images at {} x {} needs {:.1f} GB of memory and disk, "
        "more than half of this machine's {:.1f} GB; set data.decode = \"stream\" to decode them "
        "as they are used",
        folder, listing.files.size(), image_size, image_size, bytes / 1e9, memory / 1e9);
  }
  const uint64_t key = cache_key(listing, image_size);
  const fs::path dir = cache_dir.empty() ? fs::path(default_cache_dir()) : fs::path(cache_dir);
  const fs::path path = dir / fmt::format("image_folder_{:016x}.bin", key);

  std::string problem;
  if (auto cached = read_cache(path, key, problem)) {
    cached->description =
        fmt::format("image_folder:{} ({} x {}x{}x{}, cached)", listing.folder.string(),
                    cached->size(), cached->height(), cached->width(), cached->channels());
    if (cache_hit != nullptr) *cache_hit = true;
    return std::move(*cached);
  }
  if (!problem.empty()) {
    fmt::print(stderr, "warning: ignoring unusable image cache {} ({}); rebuilding it\n",
               path.string(), problem);
  }
  ImageSet set = data::decode_listing(listing, image_size);
  write_cache(path, key, set);
  if (cache_hit != nullptr) *cache_hit = false;
  return set;
}

}  // namespace swav
