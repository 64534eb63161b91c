// Reading files that hold secrets: key files, passphrase files, the status bearer token, the S3
// shared credentials file. Each is refused when its group or other users have any permission on
// it, as ssh refuses such a private key: whoever can read the secret can read every backup (or
// the bucket, or the agent's status).
//
// Thread-safety: free functions; the override is read from the environment at each call.
#pragma once

#include <cstddef>
#include <string>

#include "common/status.h"

namespace aura {

// The environment variable that, set to exactly "1", lets ReadSecretFile read a file others may
// use (a file system without modes: FAT/exFAT, some SMB/9p/virtiofs mounts, a Kubernetes Secret
// volume at its default 0644). A warning is logged for each such file. The name is historical:
// it covers every secret file, not only key files.
inline constexpr char kAllowOpenKeyFilesEnv[] = "AURA_ALLOW_OPEN_KEY_FILES";

// Reads a secret of at most `max_bytes` (`what` names it in errors: "key file", "status token
// file"). kKeyError (exit 6) naming the file, its mode and the `chmod 600` that fixes it when the
// file's group or other users have any permission on it. The mode is checked on the descriptor
// the secret is read from, so the file cannot be swapped between the check and the read.
// kNotFound if missing. Windows: no mode check (the bits mean nothing there; the agent's own
// secrets get an owner-only DACL).
Result<std::string> ReadSecretFile(const std::string& path, size_t max_bytes,
                                   const std::string& what);

}  // namespace aura
