// Credentials in URLs, kept out of every message.
//
// A URL's userinfo (`http://user:password@host/`) is a secret wherever it appears: an S3 endpoint
// written with it, a target URL pasted from another tool. Printed in an error, it ends up in
// terminals, logs, the status endpoint's JSON and whatever collects them. **Decision:** the whole
// userinfo, user name included, becomes `***` (`http://***@host/`): some services put a token in
// the user part alone, and the host is what an operator needs to recognise the URL. The agent
// itself never takes credentials from a URL (S3 credentials come from the environment or a
// credentials file), so a configured URL holding them is refused (config.cc, s3_config.cc),
// and these functions keep the refusal, and any message quoting the URL, free of them.
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>

namespace aura {

// true when `url` is "scheme://userinfo@..." (the '@' inside the authority, before any '/', '?'
// or '#').
bool UrlHasCredentials(std::string_view url);

// `url` with its userinfo replaced by "***"; unchanged when it has none (or is not a URL).
std::string RedactUrlCredentials(std::string_view url);

}  // namespace aura
