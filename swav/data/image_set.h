// Datasets decoded once into uint8 tensors.
#pragma once
#include <torch/torch.h>

#include <string>
#include <vector>

#include "swav/config/options.h"

namespace swav {

/// One split of a dataset, decoded: every image the same size, channels last.
struct ImageSet {
  torch::Tensor images;                  // uint8 [N, H, W, C], contiguous, C = 1 or 3
  torch::Tensor labels;                  // int64 [N], values in [0, num_classes)
  int64_t num_classes = 0;
  std::vector<std::string> class_names;  // num_classes entries
  std::string description;               // e.g. "fashion_mnist:/usr/share/.../train (60000 x 28x28x1)"

  int64_t size() const { return images.size(0); }
  int64_t height() const { return images.size(1); }
  int64_t width() const { return images.size(2); }
  int64_t channels() const { return images.size(3); }
};

enum class Split { kTrain, kTest };

/// Loads one split as DataOptions describes, through the on-disk uint8 cache where the format is slow
/// to decode (image folders). Formats:
///  - "fashion_mnist": {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz] in `root` (1 channel);
///  - "cifar_binary": data_batch_{1..5}.bin / test_batch.bin in `root` (CIFAR-10 binary version);
///  - "image_folder": root/<split>/<class>/*.{jpg,jpeg,png}, classes sorted by name, grayscale -> RGB;
///  - "synthetic": generated images of known classes, deterministic in the options.
/// train_limit / test_limit keep a class-balanced prefix. A missing, truncated or malformed file throws
/// UserError naming the file and the problem.
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
