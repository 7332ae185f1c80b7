#include "swav/util/zip_check.h"

#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <set>
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

/// The CRC-32 of a deflated record's content, inflated in blocks (never more than `size` bytes,
/// the directory's word, are produced). Throws when the stream is broken or its length is not
/// `size`.
uint32_t inflated_crc(const std::string& path, const std::string& name, const unsigned char* data,
                      uint32_t packed, uint32_t size) {
  z_stream stream{};
  if (inflateInit2(&stream, -MAX_WBITS) != Z_OK) fail("{}: zlib could not start", path);
  stream.next_in = const_cast<unsigned char*>(data);
  stream.avail_in = packed;
  std::vector<unsigned char> block(1 << 16);
  uLong crc = crc32_z(0, nullptr, 0);
  uint64_t produced = 0;
  int status = Z_OK;
  while (status == Z_OK) {
    stream.next_out = block.data();
    stream.avail_out = static_cast<uInt>(block.size());
    status = inflate(&stream, Z_NO_FLUSH);
    const size_t got = block.size() - stream.avail_out;
    produced += got;
    crc = crc32_z(crc, block.data(), got);
    if (produced > size || (status == Z_OK && got == 0 && stream.avail_in == 0)) break;
  }
  inflateEnd(&stream);
  if (status != Z_STREAM_END || produced != size)
    fail("{}: corrupt checkpoint: record '{}' does not inflate to its {} bytes", path, name, size);
  return static_cast<uint32_t>(crc);
}

}  // namespace

void check_zip_integrity(const std::string& path, bool ours) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("{}: cannot be opened", path);
  Bytes file(path, std::vector<unsigned char>((std::istreambuf_iterator<char>(in)),
                                              std::istreambuf_iterator<char>()));
  // The end-of-directory record: 22 bytes and a comment of up to 65535, at the end.
  if (file.size() < 22)
    fail("{}: corrupt or truncated checkpoint: too short for a zip archive", path);
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
  std::set<std::string> names;
  for (uint32_t i = 0; i < entries; ++i) {
    if (file.u32(entry, "a directory entry") != kDirectoryEntry)
      fail("{}: corrupt checkpoint: directory entry {} of {} is damaged", path, i + 1, entries);
    const uint32_t method = file.u16(entry + 10, "a directory entry");
    const uint32_t crc = file.u32(entry + 16, "a directory entry");
    const uint32_t packed = file.u32(entry + 20, "a directory entry");
    const uint32_t size = file.u32(entry + 24, "a directory entry");
    const uint32_t name_length = file.u16(entry + 28, "a directory entry");
    const uint32_t extra_length = file.u16(entry + 30, "a directory entry");
    const uint32_t comment_length = file.u16(entry + 32, "a directory entry");
    const uint32_t local = file.u32(entry + 42, "a directory entry");
    const unsigned char* name_bytes = file.at(entry + 46, name_length, "a record name");
    const std::string name(name_bytes, name_bytes + name_length);
    entry += 46 + size_t{name_length} + extra_length + comment_length;
    if (packed == kZip64 || size == kZip64 || local == kZip64) continue;
    if (file.u32(local, "a record header") != kLocalHeader)
      fail("{}: corrupt checkpoint: the header of record '{}' is damaged", path, name);
    // Every record is named twice, in the directory and in its own header, and once only: a name
    // changed in one place (found by fuzz/fuzz_checkpoint.cpp: a TorchScript code record renamed
    // to its neighbour's name makes LibTorch's importer terminate the process) is damage.
    const uint32_t local_name_length = file.u16(local + 26, "a record header");
    const unsigned char* local_name = file.at(local + 30, local_name_length, "a record name");
    if (std::string(local_name, local_name + local_name_length) != name)
      fail("{}: corrupt checkpoint: record '{}' is named differently in its own header", path,
           name);
    if (!names.insert(name).second)
      fail("{}: corrupt checkpoint: two records are named '{}'", path, name);
    const size_t data_at = local + 30 + size_t{file.u16(local + 26, "a record header")} +
                           file.u16(local + 28, "a record header");
    const unsigned char* data = file.at(data_at, packed, "a record");
    const bool unchecked = (method != 0 && method != 8) || (crc == 0 && size > 0);
    if (unchecked && ours)
      fail(
          "{}: corrupt checkpoint: record '{}' is {} (this program's checkpoints store every "
          "record plain or deflated, with its CRC-32)",
          path, name, crc == 0 ? "without a CRC-32" : "in an unknown compression");
    if (unchecked) continue;
    uint32_t actual = 0;
    if (method == 0) {
      if (size != packed)
        fail("{}: corrupt checkpoint: record '{}' has two different sizes", path, name);
      actual = static_cast<uint32_t>(crc32_z(crc32_z(0, nullptr, 0), data, packed));
    } else {
      actual = inflated_crc(path, name, data, packed, size);
    }
    if (actual != crc)
      fail(
          "{}: corrupt checkpoint: record '{}' fails its CRC-32 check (the file was damaged "
          "after it was written)",
          path, name);
  }
}

}  // namespace swav
