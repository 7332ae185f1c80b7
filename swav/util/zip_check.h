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
/// records (over 4 GiB) or compressed records are checked as far as the classic fields go.
void check_zip_integrity(const std::string& path);

}  // namespace swav
