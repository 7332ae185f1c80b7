// load_split: the one place that maps DataOptions onto a decoder.
#include "swav/data/image_set.h"

#include <filesystem>

#include "swav/data/folder_listing.h"
#include "swav/util/error.h"

namespace swav {
namespace fs = std::filesystem;

namespace {

// `stem` or `stem.gz` inside root, preferring the compressed file as distributed.
std::string find_idx_file(const fs::path& root, const std::string& stem) {
  for (const std::string& name : {stem + ".gz", stem}) {
    if (fs::is_regular_file(root / name)) return (root / name).string();
  }
  fail("fashion_mnist: neither {} nor {}.gz found in {}", stem, stem, root.string());
}

ImageSet load_fashion_mnist(const fs::path& root, Split split) {
  const std::string prefix = split == Split::kTrain ? "train" : "t10k";
  const std::string images = find_idx_file(root, prefix + "-images-idx3-ubyte");
  const std::string labels = find_idx_file(root, prefix + "-labels-idx1-ubyte");
  ImageSet set = read_idx_pair(images, labels);
  if (set.num_classes > 10) {
    fail("fashion_mnist: labels in {} go up to {}, but Fashion-MNIST has 10 classes", root.string(),
         set.num_classes - 1);
  }
  set.num_classes = 10;
  set.class_names = fashion_mnist_class_names();
  set.description = fmt::format("fashion_mnist:{}/{} ({} x {}x{}x1)", root.string(), prefix,
                                set.size(), set.height(), set.width());
  return set;
}

ImageSet load_cifar(const fs::path& root, Split split) {
  std::vector<std::string> paths;
  if (split == Split::kTrain) {
    for (int i = 1; i <= 5; ++i)
      paths.push_back((root / fmt::format("data_batch_{}.bin", i)).string());
  } else {
    paths.push_back((root / "test_batch.bin").string());
  }
  for (const auto& p : paths) {
    if (!fs::is_regular_file(p)) fail("cifar_binary: {} not found", p);
  }
  return read_cifar_binary(paths);
}

}  // namespace

const std::vector<std::string>& fashion_mnist_class_names() {
  static const std::vector<std::string> names = {"T-shirt/top", "Trouser",   "Pullover", "Dress",
                                                 "Coat",        "Sandal",    "Shirt",    "Sneaker",
                                                 "Bag",         "Ankle boot"};
  return names;
}

ImageSet take_balanced(const ImageSet& set, int64_t limit) {
  const int64_t N = set.size();
  if (limit <= 0 || limit >= N) return set;
  // Per class, the positions of its images in order; then take one from each class in turn.
  const auto labels = set.labels.contiguous();
  const int64_t* label = labels.data_ptr<int64_t>();
  std::vector<std::vector<int64_t>> by_class(set.num_classes);
  for (int64_t i = 0; i < N; ++i) by_class.at(label[i]).push_back(i);
  std::vector<int64_t> keep;
  for (size_t round = 0; static_cast<int64_t>(keep.size()) < limit; ++round) {
    for (const auto& members : by_class) {
      if (round < members.size() && static_cast<int64_t>(keep.size()) < limit) {
        keep.push_back(members[round]);
      }
    }
  }
  std::sort(keep.begin(), keep.end());
  const auto index = torch::tensor(keep, torch::kInt64);
  ImageSet out;
  if (set.streamed()) {
    auto files = std::make_shared<ImageFiles>(*set.files);
    files->paths.clear();
    for (int64_t i : keep) files->paths.push_back(set.files->paths[i]);
    out.files = std::move(files);
  } else {
    out.images = set.images.index_select(0, index).contiguous();
  }
  out.labels = set.labels.index_select(0, index).contiguous();
  out.num_classes = set.num_classes;
  out.class_names = set.class_names;
  out.description = fmt::format("{}, balanced first {}", set.description, limit);
  return out;
}

namespace {

ImageSet streamed_set(data::FolderListing listing, int64_t side, bool skip_corrupt) {
  auto files = std::make_shared<ImageFiles>();
  files->side = side;
  files->skip_corrupt = skip_corrupt;
  files->paths.reserve(listing.files.size());
  for (const auto& f : listing.files) files->paths.push_back(f.string());
  ImageSet set;
  set.labels = torch::tensor(listing.labels, torch::kInt64);
  set.num_classes = static_cast<int64_t>(listing.class_names.size());
  set.class_names = std::move(listing.class_names);
  set.description = fmt::format("image_folder:{} ({} files, streamed; evaluation views {}x{})",
                                listing.folder.string(), files->paths.size(), side, side);
  set.files = std::move(files);
  return set;
}

}  // namespace

ImageSet stream_image_folder(const std::string& folder, int64_t side, bool skip_corrupt) {
  return streamed_set(data::list_image_folder(folder), side, skip_corrupt);
}

ImageSet load_split(const DataOptions& options, Split split) {
  const int64_t limit = split == Split::kTrain ? options.train_limit : options.test_limit;
  const std::string& format = options.format;
  if (format == "synthetic") return take_balanced(make_synthetic(options, split), limit);
  if (format != "fashion_mnist" && format != "cifar_binary" && format != "image_folder") {
    fail("data.format \"{}\" is not one of fashion_mnist, cifar_binary, image_folder, synthetic",
         format);
  }
  if (options.root.empty()) fail("data.root must name the dataset folder for format {}", format);
  const fs::path root(options.root);
  if (!fs::is_directory(root))
    fail("data.root {} does not exist or is not a directory", root.string());

  ImageSet set;
  if (format == "fashion_mnist") {
    set = load_fashion_mnist(root, split);
  } else if (format == "cifar_binary") {
    set = load_cifar(root, split);
  } else {
    const std::string& sub = split == Split::kTrain ? options.train_split : options.test_split;
    if (options.decode == "stream") {
      set = streamed_set(data::list_image_folder_cached((root / sub).string(), options.cache_dir),
                         options.image_size, options.skip_corrupt);
    } else {
      set = read_image_folder_cached((root / sub).string(), options.image_size, options.cache_dir);
    }
  }
  return take_balanced(set, limit);
}

}  // namespace swav
