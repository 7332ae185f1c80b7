// SHA-256 of a file, for recording which weights an evaluation used (OpenSSL's libcrypto).
#pragma once
#include <string>

namespace swav {

/// The SHA-256 digest of the file's bytes, as 64 lowercase hex digits (what `sha256sum` prints).
/// Reads the file in blocks, so a checkpoint of any size costs constant memory. Throws UserError
/// naming the path when it cannot be opened or read.
std::string file_sha256(const std::string& path);

}  // namespace swav
