// IDX files (the MNIST / Fashion-MNIST format), plain or gzip-compressed.
#include <zlib.h>

#include <algorithm>
#include <array>
#include <vector>

#include "swav/data/image_set.h"
#include "swav/util/error.h"

namespace swav {
namespace {

constexpr uint32_t kImagesMagic = 0x00000803;  // unsigned byte, 3 dimensions
constexpr uint32_t kLabelsMagic = 0x00000801;  // unsigned byte, 1 dimension

// gzread reads gzip and plain files alike.
class GzFile {
 public:
  explicit GzFile(const std::string& path) : path_(path), file_(gzopen(path.c_str(), "rb")) {
    if (file_ == nullptr) fail("cannot open {}", path);
  }
  ~GzFile() { gzclose(file_); }
  GzFile(const GzFile&) = delete;
  GzFile& operator=(const GzFile&) = delete;

  /// Reads up to n bytes; returns how many were read (fewer only at the end of the data).
  int64_t read(void* dst, int64_t n) {
    auto* out = static_cast<unsigned char*>(dst);
    int64_t total = 0;
    while (total < n) {
      const auto chunk = static_cast<unsigned>(std::min<int64_t>(n - total, 1 << 30));
      const int got = gzread(file_, out + total, chunk);
      if (got < 0) {
        int code = 0;
        fail("{}: corrupt compressed data ({})", path_, gzerror(file_, &code));
      }
      if (got == 0) break;
      total += got;
    }
    return total;
  }

  void read_exactly(void* dst, int64_t n, const char* what) {
    const int64_t got = read(dst, n);
    if (got != n) fail("{}: truncated: expected {} bytes of {}, found {}", path_, n, what, got);
  }

  uint32_t read_u32(const char* what) {
    std::array<unsigned char, 4> b{};
    read_exactly(b.data(), 4, what);
    return (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | b[3];
  }

  /// Exactly n bytes as a uint8 tensor [n], grown as the data arrives: a header that claims more
  /// than the file holds fails as truncated without first allocating what it claims.
  torch::Tensor read_tensor(int64_t n, const char* what) {
    constexpr int64_t kChunk = int64_t{64} << 20;
    std::vector<uint8_t> bytes;
    while (static_cast<int64_t>(bytes.size()) < n) {
      const int64_t have = static_cast<int64_t>(bytes.size());
      const int64_t want = std::min(kChunk, n - have);
      bytes.resize(static_cast<size_t>(have + want));
      const int64_t got = read(bytes.data() + have, want);
      if (got != want)
        fail("{}: truncated: expected {} bytes of {}, found {}", path_, n, what, have + got);
    }
    return torch::from_blob(bytes.data(), {n}, torch::kUInt8).clone();
  }

  void expect_end(int64_t items) {
    unsigned char extra = 0;
    if (read(&extra, 1) != 0) {
      fail("{}: longer than its header says ({} items); not an IDX file or a mismatched header",
           path_, items);
    }
  }

 private:
  std::string path_;
  gzFile file_;
};

}  // namespace

ImageSet read_idx_pair(const std::string& images_path, const std::string& labels_path) {
  GzFile images_file(images_path);
  const uint32_t images_magic = images_file.read_u32("header");
  if (images_magic != kImagesMagic) {
    fail("{}: bad magic number 0x{:08x} (an IDX image file starts with 0x{:08x})", images_path,
         images_magic, kImagesMagic);
  }
  const int64_t n = images_file.read_u32("header");
  const int64_t rows = images_file.read_u32("header");
  const int64_t cols = images_file.read_u32("header");
  // 2^40 pixels (a terabyte) bounds the product, which could otherwise overflow int64.
  if (n < 1 || rows < 1 || cols < 1 || rows > 65536 || cols > 65536 ||
      static_cast<double>(n) * static_cast<double>(rows) * static_cast<double>(cols) >
          static_cast<double>(int64_t{1} << 40)) {
    fail("{}: implausible dimensions {} x {} x {}", images_path, n, rows, cols);
  }

  GzFile labels_file(labels_path);
  const uint32_t labels_magic = labels_file.read_u32("header");
  if (labels_magic != kLabelsMagic) {
    fail("{}: bad magic number 0x{:08x} (an IDX label file starts with 0x{:08x})", labels_path,
         labels_magic, kLabelsMagic);
  }
  const int64_t label_count = labels_file.read_u32("header");
  if (label_count != n) {
    fail("{} holds {} images but {} holds {} labels", images_path, n, labels_path, label_count);
  }

  ImageSet set;
  set.images = images_file.read_tensor(n * rows * cols, "pixels").view({n, rows, cols, 1});
  images_file.expect_end(n);
  const auto raw_labels = labels_file.read_tensor(n, "labels");
  labels_file.expect_end(n);
  set.labels = raw_labels.to(torch::kInt64);

  const int64_t num_classes = set.labels.max().item<int64_t>() + 1;
  set.num_classes = num_classes;
  for (int64_t c = 0; c < num_classes; ++c) set.class_names.push_back(std::to_string(c));
  set.description = fmt::format("idx:{} ({} x {}x{}x1)", images_path, n, rows, cols);
  return set;
}

}  // namespace swav
