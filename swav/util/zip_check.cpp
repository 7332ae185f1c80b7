#include "swav/util/zip_check.h"

#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <vector>

#include "swav/util/error.h"

namespace swav {

namespace {

constexpr uint32_t kEndOfDirectory = 0x06054b50;
constexpr uint32_t kDirectoryEntry = 0x02014b50;
constexpr uint32_t kLocalHeader = 0x04034b50;
constexpr uint32_t kZip64 = 0xffffffff;

class Bytes {
 public:
  Bytes(const std::string& path, std::vector<unsigned char> data)
      : path_(path), data_(std::move(data)) {}
  size_t size() const { return data_.size(); }
  const unsigned char* at(size_t offset, size_t n, const char* what) const {
    if (offset > data_.size() || n > data_.size() - offset)
      fail("{}: corrupt or truncated checkpoint: {} lies past the end of the file ({} bytes)",
           path_, what, data_.size());
    return data_.data() + offset;
  }
  uint32_t u16(size_t offset, const char* what) const {
    const unsigned char* p = at(offset, 2, what);
    return p[0] | (uint32_t{p[1]} << 8);
  }
  uint32_t u32(size_t offset, const char* what) const {
    const unsigned char* p = at(offset, 4, what);
    return p[0] | (uint32_t{p[1]} << 8) | (uint32_t{p[2]} << 16) | (uint32_t{p[3]} << 24);
  }

 private:
  std::string path_;
  std::vector<unsigned char> data_;
};

}  // namespace

void check_zip_integrity(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("{}: cannot be opened", path);
  Bytes file(path, std::vector<unsigned char>((std::istreambuf_iterator<char>(in)),
                                              std::istreambuf_iterator<char>()));
  // The end-of-directory record: 22 bytes and a comment of up to 65535, at the end.
  if (file.size() < 22) fail("{}: corrupt or truncated checkpoint: too short for a zip archive", path);
  size_t end = file.size() - 22;
  const size_t lowest = file.size() > 22 + 65535 ? file.size() - 22 - 65535 : 0;
  while (file.u32(end, "the end record") != kEndOfDirectory) {
    if (end == lowest)
      fail("{}: corrupt or truncated checkpoint: no zip end-of-directory record", path);
    --end;
  }
  const uint32_t entries = file.u16(end + 10, "the entry count");
  const uint32_t directory_size = file.u32(end + 12, "the directory size");
  const uint32_t directory_at = file.u32(end + 16, "the directory offset");
  if (directory_at == kZip64 || directory_size == kZip64 || entries == 0xffff) return;
  file.at(directory_at, directory_size, "the central directory");
  size_t entry = directory_at;
  for (uint32_t i = 0; i < entries; ++i) {
    if (file.u32(entry, "a directory entry") != kDirectoryEntry)
      fail("{}: corrupt checkpoint: directory entry {} of {} is damaged", path, i + 1, entries);
    const uint32_t method = file.u16(entry + 10, "a directory entry");
    const uint32_t crc = file.u32(entry + 16, "a directory entry");
    const uint32_t packed = file.u32(entry + 20, "a directory entry");
    const uint32_t name_length = file.u16(entry + 28, "a directory entry");
    const uint32_t extra_length = file.u16(entry + 30, "a directory entry");
    const uint32_t comment_length = file.u16(entry + 32, "a directory entry");
    const uint32_t local = file.u32(entry + 42, "a directory entry");
    const unsigned char* name_bytes = file.at(entry + 46, name_length, "a record name");
    const std::string name(name_bytes, name_bytes + name_length);
    entry += 46 + size_t{name_length} + extra_length + comment_length;
    if (packed == kZip64 || local == kZip64) continue;
    if (file.u32(local, "a record header") != kLocalHeader)
      fail("{}: corrupt checkpoint: the header of record '{}' is damaged", path, name);
    const size_t data_at = local + 30 + size_t{file.u16(local + 26, "a record header")} +
                           file.u16(local + 28, "a record header");
    const unsigned char* data = file.at(data_at, packed, "a record");
    // Compressed records (LibTorch's writer never compresses) and records saved without a CRC
    // (torch.serialization.set_crc32_options(False) writes 0) cannot be checked here.
    if (method != 0 || (crc == 0 && packed > 0)) continue;
    const auto actual = static_cast<uint32_t>(crc32_z(crc32_z(0, nullptr, 0), data, packed));
    if (actual != crc)
      fail("{}: corrupt checkpoint: record '{}' fails its CRC-32 check (the file was damaged "
           "after it was written)",
           path, name);
  }
}

}  // namespace swav
