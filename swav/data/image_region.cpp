// Decoding only the part of an image a crop needs (swav/data/decode.h): libjpeg's DCT scaling,
// jpeg_crop_scanline and jpeg_skip_scanlines for JPEG; a whole decode, then a cut, for PNG.
#include <jpeglib.h>

#include <algorithm>
#include <cmath>
#include <csetjmp>
#include <cstdio>
#include <cstring>

#include "swav/data/decode.h"
#include "swav/util/error.h"

namespace swav::data {
namespace {

// libjpeg reports errors through a callback that must not return: it jumps back to the setjmp of
// libjpeg_calls. Warnings (corrupt data, a premature end of the stream) are errors here too, as in
// the whole-image decoder: a crop of gray filler would be silently wrong data.
struct ErrorManager {
  jpeg_error_mgr pub;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

void on_error(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<ErrorManager*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  std::longjmp(err->jump, 1);
}

void on_message(j_common_ptr cinfo, int level) {
  if (level < 0) on_error(cinfo);  // a warning: corrupt or truncated data
}

// Runs `calls` (libjpeg calls on plain data only) with `err` as their jump point: false when
// libjpeg reported an error. The jump lands in this frame, which holds no C++ object, so nothing
// with a destructor is skipped and no local of the callers is left indeterminate.
template <class Calls>
bool libjpeg_calls(ErrorManager& err, Calls&& calls) {
  if (setjmp(err.jump) != 0) return false;
  calls();
  return true;
}

// Reads the header of the JPEG `bytes` into `cinfo`, its errors and warnings routed to `err`, and
// checks the size it claims. On any problem `cinfo` is destroyed and a UserError names the file;
// otherwise the caller destroys it.
void read_jpeg_header(const std::string& path, const std::vector<unsigned char>& bytes,
                      jpeg_decompress_struct& cinfo, ErrorManager& err) {
  cinfo.err = jpeg_std_error(&err.pub);
  err.pub.error_exit = on_error;
  err.pub.emit_message = on_message;
  const bool read = libjpeg_calls(err, [&] {
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, bytes.data(), static_cast<unsigned long>(bytes.size()));
    jpeg_read_header(&cinfo, TRUE);
  });
  std::string why = read ? "" : err.message;
  if (why.empty() && (cinfo.image_width < 1 || cinfo.image_height < 1)) why = "an empty image";
  if (why.empty()) why = implausible_size(cinfo.image_width, cinfo.image_height, bytes.size());
  if (!why.empty()) {
    jpeg_destroy_decompress(&cinfo);
    fail("{}: corrupt JPEG ({})", path, why);
  }
}

// A JPEG stream ends with the EOI marker (FF D9). A file cut short loses it; libjpeg notices only
// when it reads that far, which a crop near the top never does, so the file is checked up front
// (trailing bytes after EOI, which some cameras write, are allowed up to 4 KiB).
bool has_end_marker(const std::vector<unsigned char>& bytes) {
  if (bytes.size() < 4) return false;
  const size_t lowest = bytes.size() > 4096 + 2 ? bytes.size() - 4096 - 2 : 0;
  for (size_t i = bytes.size() - 2;; --i) {
    if (bytes[i] == 0xFF && bytes[i + 1] == 0xD9) return true;
    if (i == lowest) return false;
  }
}

int64_t floor_scaled(int64_t u, int64_t scaled, int64_t original) {
  return static_cast<int64_t>(
      std::floor(static_cast<double>(u) * static_cast<double>(scaled) / original));
}
int64_t ceil_scaled(int64_t u, int64_t scaled, int64_t original) {
  return static_cast<int64_t>(
      std::ceil(static_cast<double>(u) * static_cast<double>(scaled) / original));
}

// CMYK samples to RGB as Pillow converts them: r = (255 - c)(255 - k) / 255. Adobe's JPEGs store
// the inks inverted (255 - c), which is what libjpeg returns for them.
void cmyk_to_rgb(const uint8_t* cmyk, int64_t n, bool inverted, uint8_t* rgb) {
  for (int64_t i = 0; i < n; ++i) {
    int v[4];
    for (int c = 0; c < 4; ++c) v[c] = inverted ? cmyk[4 * i + c] : 255 - cmyk[4 * i + c];
    for (int c = 0; c < 3; ++c) rgb[3 * i + c] = static_cast<uint8_t>((v[c] * v[3] + 127) / 255);
  }
}

DecodedRegion decode_jpeg_region(const std::string& path, const std::vector<unsigned char>& bytes,
                                 const PixelBox& box, int reduce) {
  if (!has_end_marker(bytes)) fail("{}: corrupt JPEG (truncated: no end-of-image marker)", path);
  jpeg_decompress_struct cinfo;
  ErrorManager err;
  read_jpeg_header(path, bytes, cinfo, err);
  auto corrupt = [&](const std::string& why) {
    jpeg_destroy_decompress(&cinfo);
    fail("{}: corrupt JPEG ({})", path, why);
  };
  const int64_t W = cinfo.image_width, H = cinfo.image_height;
  if (box.top < 0 || box.left < 0 || box.height < 1 || box.width < 1 || box.top + box.height > H ||
      box.left + box.width > W) {
    corrupt(fmt::format("crop {}x{}+{}+{} outside the {}x{} image", box.width, box.height, box.left,
                        box.top, W, H));
  }
  const bool cmyk = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
  const bool inverted = cinfo.saw_Adobe_marker != 0;
  cinfo.out_color_space = cmyk ? JCS_CMYK : JCS_RGB;  // gray is expanded to RGB by libjpeg
  cinfo.scale_num = 1;
  cinfo.scale_denom = static_cast<unsigned>(reduce);
  cinfo.dct_method = JDCT_ISLOW;  // libjpeg's default, and Pillow's
  // A margin of one block of chroma around the box: libjpeg's smooth chroma upsampling reads the
  // neighbouring samples, which a decode cut at the box's edge lacks (it repeats the edge), so
  // with the margin every pixel of the box is the pixel of the whole decode.
  constexpr int64_t kMargin = 16;
  int64_t Ws = 0, Hs = 0, r0 = 0, r1 = 0;
  JDIMENSION x = 0, width = 0;
  const bool started = libjpeg_calls(err, [&] {
    jpeg_start_decompress(&cinfo);
    Ws = cinfo.output_width;
    Hs = cinfo.output_height;
    const int64_t c0 = std::clamp<int64_t>(floor_scaled(box.left, Ws, W) - kMargin, 0, Ws - 1);
    const int64_t c1 =
        std::clamp<int64_t>(ceil_scaled(box.left + box.width, Ws, W) + kMargin, c0 + 1, Ws);
    r0 = std::clamp<int64_t>(floor_scaled(box.top, Hs, H) - kMargin, 0, Hs - 1);
    r1 = std::clamp<int64_t>(ceil_scaled(box.top + box.height, Hs, H) + kMargin, r0 + 1, Hs);
    x = static_cast<JDIMENSION>(c0);
    width = static_cast<JDIMENSION>(c1 - c0);
    if (c0 > 0 || c1 < Ws) jpeg_crop_scanline(&cinfo, &x, &width);  // widened to whole blocks
    if (r0 > 0) jpeg_skip_scanlines(&cinfo, static_cast<JDIMENSION>(r0));
  });
  if (!started) corrupt(err.message);
  DecodedRegion out;
  out.width = width;
  out.height = r1 - r0;
  out.col0 = x;
  out.row0 = r0;
  out.scaled_width = Ws;
  out.scaled_height = Hs;
  out.original_width = W;
  out.original_height = H;
  out.reduce = reduce;
  out.pixels.resize(static_cast<size_t>(out.height * out.width * 3));
  std::vector<uint8_t> cmyk_row(cmyk ? static_cast<size_t>(out.width * 4) : 0);
  uint8_t* const pixels = out.pixels.data();
  uint8_t* const row = cmyk_row.data();
  const int64_t rows = out.height, columns = out.width;
  const bool decoded = libjpeg_calls(err, [&] {
    for (int64_t y = 0; y < rows; ++y) {
      uint8_t* dst = pixels + y * columns * 3;
      JSAMPROW scanline[1] = {cmyk ? row : dst};
      jpeg_read_scanlines(&cinfo, scanline, 1);
      if (cmyk) cmyk_to_rgb(row, columns, inverted, dst);
    }
  });
  if (!decoded) corrupt(err.message);
  jpeg_destroy_decompress(&cinfo);  // the rows below the box are never decoded
  return out;
}

}  // namespace

ImageInfo read_image_info(const std::string& path, const std::vector<unsigned char>& bytes) {
  ImageInfo info;
  if (is_png(bytes)) {
    // IHDR is the first chunk: signature (8), length (4), "IHDR" (4), width (4), height (4).
    if (bytes.size() < 24 || std::memcmp(bytes.data() + 12, "IHDR", 4) != 0)
      fail("{}: corrupt PNG (no IHDR chunk first)", path);
    auto be32 = [&](size_t at) {
      return (int64_t{bytes[at]} << 24) | (int64_t{bytes[at + 1]} << 16) |
             (int64_t{bytes[at + 2]} << 8) | int64_t{bytes[at + 3]};
    };
    info.width = be32(16);
    info.height = be32(20);
    if (info.width < 1 || info.height < 1) fail("{}: corrupt PNG (an empty image)", path);
    if (const auto why = implausible_size(info.width, info.height, bytes.size()); !why.empty())
      fail("{}: corrupt PNG ({})", path, why);
    return info;
  }
  if (!is_jpeg(bytes)) fail("{}: not a JPEG or PNG file (unrecognised signature)", path);
  jpeg_decompress_struct cinfo;
  ErrorManager err;
  read_jpeg_header(path, bytes, cinfo, err);
  info.width = cinfo.image_width;
  info.height = cinfo.image_height;
  jpeg_destroy_decompress(&cinfo);
  return info;
}

int largest_reduction(const std::vector<PixelBox>& boxes, const std::vector<int64_t>& sizes) {
  for (int reduce : {8, 4, 2}) {
    bool enough = true;
    for (size_t i = 0; i < boxes.size() && enough; ++i)
      enough = boxes[i].height >= sizes[i] * reduce && boxes[i].width >= sizes[i] * reduce;
    if (enough) return reduce;
  }
  return 1;
}

DecodedRegion decode_region(const std::string& path, const std::vector<unsigned char>& bytes,
                            const PixelBox& box, int reduce) {
  if (reduce != 1 && reduce != 2 && reduce != 4 && reduce != 8)
    fail("decode_region: reduction {} is not 1, 2, 4 or 8", reduce);
  if (is_jpeg(bytes)) return decode_jpeg_region(path, bytes, box, reduce);
  const torch::Tensor image = decode_image_bytes(path, bytes);  // PNG: whole, then cut
  const int64_t H = image.size(0), W = image.size(1);
  if (box.top < 0 || box.left < 0 || box.height < 1 || box.width < 1 || box.top + box.height > H ||
      box.left + box.width > W)
    fail("{}: crop {}x{}+{}+{} outside the {}x{} image", path, box.width, box.height, box.left,
         box.top, W, H);
  DecodedRegion out;
  out.height = box.height;
  out.width = box.width;
  out.row0 = box.top;
  out.col0 = box.left;
  out.scaled_height = out.original_height = H;
  out.scaled_width = out.original_width = W;
  out.pixels.resize(static_cast<size_t>(box.height * box.width * 3));
  const uint8_t* src = image.data_ptr<uint8_t>();
  for (int64_t y = 0; y < box.height; ++y)
    std::memcpy(out.pixels.data() + y * box.width * 3, src + ((box.top + y) * W + box.left) * 3,
                static_cast<size_t>(box.width * 3));
  return out;
}

}  // namespace swav::data
