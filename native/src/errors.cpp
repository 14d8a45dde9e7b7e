#include "errors.hpp"

namespace r4j {
namespace {
thread_local std::string last_error;
}

void set_last_error(const std::string& message) { last_error = message; }
void clear_last_error() { last_error.clear(); }
const char* last_error_text() { return last_error.c_str(); }

}  // namespace r4j

extern "C" R4J_API const char* r4j_last_error(void) { return r4j::last_error_text(); }
