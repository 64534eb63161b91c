#include "common/url_credentials.h"

#include <algorithm>
#include <optional>
#include <utility>

namespace aura {

namespace {

// Where the userinfo of `url` is, [begin, end) with `end` at the '@'; nullopt when it has none.
std::optional<std::pair<size_t, size_t>> Userinfo(std::string_view url) {
  const size_t scheme = url.find("://");
  if (scheme == std::string_view::npos) return std::nullopt;
  const size_t begin = scheme + 3;
  const size_t authority_end = std::min(url.find_first_of("/?#", begin), url.size());
  const size_t at = url.substr(0, authority_end).rfind('@');
  if (at == std::string_view::npos || at < begin) return std::nullopt;
  return std::pair{begin, at};
}

}  // namespace

bool UrlHasCredentials(std::string_view url) { return Userinfo(url).has_value(); }

std::string RedactUrlCredentials(std::string_view url) {
  auto userinfo = Userinfo(url);
  if (!userinfo) return std::string(url);
  return std::string(url.substr(0, userinfo->first)) + "***" +
         std::string(url.substr(userinfo->second));
}

}  // namespace aura
