// Ember's exceptions. Each maps to one Python type in the bindings (ValueError, TypeError,
// IndexError, RuntimeError, NotImplementedError). Messages name the op, what it got and what it
// expected: EMBER_CHECK(cond, ValueError, "matmul: shapes ", a, " and ", b, " ...").
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace ember {

struct Error : std::runtime_error { using std::runtime_error::runtime_error; };
struct ValueError : Error { using Error::Error; };
struct TypeError : Error { using Error::Error; };
struct IndexError : Error { using Error::Error; };
struct RuntimeError : Error { using Error::Error; };
struct NotImplementedError : Error { using Error::Error; };
struct OutOfMemoryError : Error { using Error::Error; };

namespace detail {
inline void str_into(std::ostringstream&) {}
template <class T, class... R>
void str_into(std::ostringstream& os, const T& v, const R&... rest) {
  os << v;
  str_into(os, rest...);
}
}  // namespace detail

template <class... A>
std::string str(const A&... a) {
  std::ostringstream os;
  detail::str_into(os, a...);
  return os.str();
}

}  // namespace ember

#define EMBER_CHECK(cond, Kind, ...)                        \
  do {                                                      \
    if (!(cond)) throw ::ember::Kind(::ember::str(__VA_ARGS__)); \
  } while (0)
