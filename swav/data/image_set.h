// Datasets decoded once into uint8 tensors.
#pragma once
#include <torch/torch.h>

#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "swav/config/options.h"

namespace swav {

/// The files a streamed split skipped as corrupt (data.skip_corrupt), shared by its copies.
class CorruptFiles {
 public:
  /// Records `path` (its `why` printed once, as a warning); true the first time.
  bool add(const std::string& path, const std::string& why);
  int64_t count() const;

 private:
  mutable std::mutex mutex_;
  std::set<std::string> paths_;
};

/// The files of a streamed split (data.decode = "stream"): decoded when a sample is used.
struct ImageFiles {
  std::vector<std::string> paths;  // one per sample
  int64_t side = 0;                // evaluation views: short side resized to this, centre square
  bool skip_corrupt = false;       // a file that cannot be decoded is replaced, with a warning
  std::shared_ptr<CorruptFiles> corrupt = std::make_shared<CorruptFiles>();
};

/// One split of a dataset: decoded, every image the same size, channels last; or streamed, its
/// files decoded as they are used (`files` set, `images` undefined).
struct ImageSet {
  torch::Tensor images;  // uint8 [N, H, W, C], contiguous, C = 1 or 3
  torch::Tensor labels;  // int64 [N], values in [0, num_classes)
  int64_t num_classes = 0;
  std::vector<std::string> class_names;  // num_classes entries
  std::string description;  // e.g. "fashion_mnist:/usr/share/.../train (60000 x 28x28x1)"
  std::shared_ptr<const ImageFiles> files;  // streamed sets only

  bool streamed() const { return files != nullptr; }
  int64_t size() const { return streamed() ? labels.size(0) : images.size(0); }
  // A streamed set's height and width are those of its evaluation views.
  int64_t height() const { return streamed() ? files->side : images.size(1); }
  int64_t width() const { return streamed() ? files->side : images.size(2); }
  int64_t channels() const { return streamed() ? 3 : images.size(3); }
};

/// Images [begin, begin + rows) as uint8 [rows, H, W, C]: a slice of a decoded set, or, for a
/// streamed set, each file decoded with its short side resized to files->side and the centre
/// square cut (the reference's Resize + CenterCrop evaluation view), on a few threads. Throws
/// UserError naming a file that cannot be decoded (unless files->skip_corrupt: then a gray image,
/// with a warning).
torch::Tensor image_rows(const ImageSet& set, int64_t begin, int64_t rows);

enum class Split { kTrain, kTest };

/// Loads one split as DataOptions describes, through the on-disk uint8 cache where the format is
/// slow to decode (image folders). Formats:
///  - "fashion_mnist": {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz] in `root` (1 channel);
///  - "cifar_binary": data_batch_{1..5}.bin / test_batch.bin in `root` (CIFAR-10 binary version);
///  - "image_folder": root/<split>/<class>/*.{jpg,jpeg,png}, classes sorted by name, grayscale ->
///  RGB;
///  - "synthetic": generated images of known classes, deterministic in the options.
/// train_limit / test_limit keep a class-balanced prefix. A missing, truncated or malformed file
/// throws UserError naming the file and the problem.
ImageSet load_split(const DataOptions& options, Split split);

/// The decoders, usable directly (tests, tools). Each throws UserError naming the file.
ImageSet read_idx_pair(const std::string& images_path, const std::string& labels_path);
ImageSet read_cifar_binary(const std::vector<std::string>& batch_paths);
ImageSet read_image_folder(const std::string& folder, int64_t image_size);
ImageSet make_synthetic(const DataOptions& options, Split split);

/// read_image_folder through the on-disk uint8 cache in `cache_dir` (empty = default_cache_dir()).
/// The entry is keyed by the folder's absolute path, image_size and every image file's relative
/// path, size and modification time, so any change to the folder misses. A corrupt or truncated
/// entry is ignored with a warning on stderr and rebuilt; failing to write the cache only warns.
/// `cache_hit`, when given, reports whether the images came from the cache.
ImageSet read_image_folder_cached(const std::string& folder, int64_t image_size,
                                  const std::string& cache_dir, bool* cache_hit = nullptr);

/// An image folder for data.decode = "stream": the listing and labels only, nothing decoded.
/// `side`: the evaluation views' side (image_rows).
ImageSet stream_image_folder(const std::string& folder, int64_t side, bool skip_corrupt);

/// $XDG_CACHE_HOME/swav-bench/data, or ~/.cache/swav-bench/data when XDG_CACHE_HOME is unset.
std::string default_cache_dir();

/// The ten Fashion-MNIST class names, in label order.
const std::vector<std::string>& fashion_mnist_class_names();

/// Decodes one JPEG or PNG file into uint8 [H, W, 3] (grayscale and alpha converted to RGB).
torch::Tensor decode_image_file(const std::string& path);

/// Keeps the first `limit` images of each class in turn (round robin), preserving order; limit <= 0
/// keeps everything.
ImageSet take_balanced(const ImageSet& set, int64_t limit);

}  // namespace swav
