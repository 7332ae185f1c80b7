// The files of an image folder, shared by the decoder and the cache (internal to swav/data).
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "swav/data/image_set.h"

namespace swav::data {

/// root/<class>/<image>: classes sorted by name, files sorted by name within each class.
struct FolderListing {
  std::filesystem::path folder;          // absolute, normalised
  std::vector<std::string> class_names;  // sorted
  std::vector<std::filesystem::path> files;
  std::vector<int64_t> labels;  // class of each file
};

/// Lists `folder`; throws UserError if it is missing, has no class folders, or a class has no
/// image. Images are the files ending in .jpg, .jpeg or .png (any case); hidden entries are
/// skipped.
FolderListing list_image_folder(const std::string& folder);

/// list_image_folder through a listing file in `cache_dir` (empty = default_cache_dir()), so a
/// folder of a million images is walked once: the entry is keyed by the folder's absolute path and
/// the name and modification time of each class folder (adding, removing or renaming an image
/// changes its folder's time). A damaged entry is ignored and written again.
FolderListing list_image_folder_cached(const std::string& folder, const std::string& cache_dir);

/// Decodes every listed file (a few threads), resized to image_size x image_size when image_size >
/// 0.
ImageSet decode_listing(const FolderListing& listing, int64_t image_size);

}  // namespace swav::data
