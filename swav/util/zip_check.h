// The integrity of a zip archive (what LibTorch's checkpoints and torch.save files are), checked
// before LibTorch parses it.
#pragma once
#include <string>

namespace swav {

/// Checks the zip archive at `path` before LibTorch reads it: the end-of-directory record, every
/// central-directory entry and local header within the file, and the CRC-32 of every stored
/// (uncompressed) record, as LibTorch writes them. Throws UserError naming the file and the first
/// problem. LibTorch's own reader checks none of the CRCs, and a flipped byte in the TorchScript
/// code record of a checkpoint can make it terminate the process (found by
/// fuzz/fuzz_checkpoint.cpp), so a damaged checkpoint must be refused here. Archives with zip64
/// records (over 4 GiB) are checked as far as the classic fields go.
/// `ours`: the file is one of our own checkpoints, whose every record LibTorch's writer stores
/// uncompressed with its CRC, so a compressed record or a CRC of 0 is damage too. Without it (a
/// torch.save file from elsewhere), compressed records and records saved without a CRC
/// (torch.serialization.set_crc32_options(False) writes 0) are let through unchecked.
void check_zip_integrity(const std::string& path, bool ours);

}  // namespace swav
