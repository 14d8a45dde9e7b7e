// Errors at the C ABI boundary: a C++ exception carrying an r4j_status, the
// thread-local last-error text, and the one helper every extern "C" body runs
// in, so that no exception ever reaches the caller (the JVM).
#pragma once

#include <stdexcept>
#include <string>

#include "rlhf4j.h"

namespace r4j {

class Error : public std::runtime_error {
 public:
  Error(r4j_status status, const std::string& message)
      : std::runtime_error(message), status_(status) {}
  r4j_status status() const { return status_; }

 private:
  r4j_status status_;
};

[[noreturn]] inline void fail(r4j_status status, const std::string& message) {
  throw Error(status, message);
}

inline void require(bool ok, const std::string& message) {
  if (!ok) fail(R4J_ERR_INVALID_ARGUMENT, message);
}

void set_last_error(const std::string& message);
void clear_last_error();
const char* last_error_text();

// Runs body, translating every exception into a status and a last-error text.
template <typename Body>
r4j_status guarded(const char* function, Body&& body) noexcept {
  try {
    clear_last_error();
    body();
    return R4J_OK;
  } catch (const Error& e) {
    set_last_error(std::string(function) + ": " + e.what());
    return e.status();
  } catch (const std::bad_alloc&) {
    set_last_error(std::string(function) + ": out of memory");
    return R4J_ERR_RUNTIME;
  } catch (const std::exception& e) {
    // libtorch messages carry a multi-line C++ backtrace; keep the first line.
    std::string what = e.what();
    auto nl = what.find('\n');
    if (nl != std::string::npos) what.resize(nl);
    set_last_error(std::string(function) + ": " + what);
    return R4J_ERR_RUNTIME;
  } catch (...) {
    set_last_error(std::string(function) + ": unknown native error");
    return R4J_ERR_RUNTIME;
  }
}

}  // namespace r4j
