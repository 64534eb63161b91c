// Requests to the status server (agent/daemon/status_server.h) from whatever can reach its
// socket or port: parsed with the server's limits, checked for the bearer token, answered. Any
// bytes give one of the documented statuses (200 from the handler, 400, 401, 413, 431), never a
// crash, and a request without the token never reaches the handler.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "agent/daemon/status_server.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const std::string token = "fuzz-token-0123456789";
  bool reached = false;
  aura::agent::HttpHandler handler = [&reached](const aura::agent::HttpRequest& r) {
    reached = true;
    return aura::agent::HttpResponse{200, "application/json", r.method + " " + r.target};
  };
  auto open = aura::agent::AnswerRequestBytes(bytes, handler, nullptr);
  const int s = open.status;
  if (s != 200 && s != 400 && s != 413 && s != 431) __builtin_trap();
  reached = false;
  auto tcp = aura::agent::AnswerRequestBytes(bytes, handler, &token);
  const bool has_token = bytes.find("Bearer " + token) != std::string_view::npos;
  if (reached && !has_token) __builtin_trap();  // the handler ran without the token
  if (tcp.status == 200 && !reached) __builtin_trap();
  return 0;
}
