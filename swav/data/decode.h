// Decoding image files: whole (the cached path) or only the part a crop needs, reduced by the
// JPEG's own DCT scaling (the streaming path). Internal to swav/data.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

namespace swav::data {

std::vector<unsigned char> read_file_bytes(const std::string& path);

inline bool is_png(const std::vector<unsigned char>& bytes) {
  static const unsigned char kSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  return bytes.size() >= 8 && std::equal(kSignature, kSignature + 8, bytes.begin());
}
inline bool is_jpeg(const std::vector<unsigned char>& bytes) {
  return bytes.size() >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF;
}

/// Why a header's claimed size cannot be believed, or "" when it can (more than 2^28 pixels, or
/// more than 1024 pixels per byte of file: no photo compresses that far).
std::string implausible_size(int64_t width, int64_t height, size_t file_bytes);

/// The whole image as uint8 [H, W, 3] (gray and CMYK converted to RGB, alpha composited on black).
/// Throws UserError naming `path`.
torch::Tensor decode_image_bytes(const std::string& path, const std::vector<unsigned char>& bytes);

/// An image's size from its header alone.
struct ImageInfo {
  int64_t width = 0, height = 0;
};
ImageInfo read_image_info(const std::string& path, const std::vector<unsigned char>& bytes);

/// A rectangle in pixels of the original (full-resolution) image.
struct PixelBox {
  int64_t top = 0, left = 0, height = 0, width = 0;
};

/// Part of an image, decoded: RGB rows of `width` pixels. The region's pixel (0, 0) is pixel
/// (row0, col0) of the image as decoded at reduction `reduce`, whose size is
/// scaled_height x scaled_width; an original coordinate u maps to u * scaled / original.
struct DecodedRegion {
  std::vector<uint8_t> pixels;  // [height, width, 3]
  int64_t height = 0, width = 0;
  int64_t row0 = 0, col0 = 0;
  int64_t scaled_height = 0, scaled_width = 0;
  int64_t original_height = 0, original_width = 0;
  int reduce = 1;
  /// Where an original box lies in the region, in region pixels (fractional when reduced).
  double top_of(const PixelBox& b) const {
    return static_cast<double>(b.top) * scaled_height / original_height - static_cast<double>(row0);
  }
  double left_of(const PixelBox& b) const {
    return static_cast<double>(b.left) * scaled_width / original_width - static_cast<double>(col0);
  }
  double height_of(const PixelBox& b) const {
    return static_cast<double>(b.height) * scaled_height / original_height;
  }
  double width_of(const PixelBox& b) const {
    return static_cast<double>(b.width) * scaled_width / original_width;
  }
};

/// The largest JPEG reduction (1, 2, 4 or 8: libjpeg's DCT scaling) at which every box still has
/// at least its output size in both directions (boxes[i] resized to sizes[i] x sizes[i]), so no
/// view is enlarged from fewer pixels than it would have at full resolution and its own shrinking
/// filter still does the antialiasing.
int largest_reduction(const std::vector<PixelBox>& boxes, const std::vector<int64_t>& sizes);

/// Decodes the part of the image that covers `box` (original pixels), at reduction `reduce`
/// (JPEG only; PNG has no such scaling and is decoded whole, then cut). For a JPEG only the rows
/// and the columns (widened to whole blocks) of the box are decoded. Throws UserError naming
/// `path` for a corrupt or truncated file, as the whole-image decoder does.
DecodedRegion decode_region(const std::string& path, const std::vector<unsigned char>& bytes,
                            const PixelBox& box, int reduce);

}  // namespace swav::data
