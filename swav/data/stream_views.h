// Multi-crop views straight from image files (the streaming path of image folders): each sample's
// JPEG or PNG is read and decoded for its views, with the crops' geometry drawn on the file's own
// width and height, as torchvision's RandomResizedCrop draws it on the full-resolution image.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "swav/data/multicrop.h"

namespace swav::data {

/// How a sample's views are decoded. kPerSample: once, the rows and block columns covering every
/// view, at the largest DCT reduction all views allow. kPerView: each view's own box at its own
/// reduction (more entropy decoding, fewer pixels per decode).
enum class StreamDecode { kPerSample, kPerView };

/// Where the time of render_file_views went, in seconds, summed over calls.
struct StreamTimes {
  double read = 0, decode = 0, resize = 0, rest = 0;
  int64_t images = 0, views = 0;
};

/// Every crop of `crops` for one image file: crop k, rendered exactly as MultiCrop renders crop k
/// of a cached image of the file's size (the same plan: sample, epoch and crop index decide it),
/// into outs[k], a planar float [3, S_k, S_k]. JPEGs are decoded at a DCT reduction of at most
/// `max_reduction` (1, 2, 4 or 8; 1 gives exactly the pixels of the cached path). Throws UserError
/// naming the file when it is missing, corrupt or truncated.
void render_file_views(const MultiCrop& crops, const std::string& path, int64_t sample,
                       int64_t epoch, const std::vector<float*>& outs,
                       StreamDecode mode = StreamDecode::kPerSample, int max_reduction = 8,
                       StreamTimes* times = nullptr);

}  // namespace swav::data
