// Small core definitions: default dtype, Device parsing, shape helpers.
#include <algorithm>
#include <sstream>

#include "ember/device.h"
#include "ember/dtype.h"
#include "ember/shape.h"

namespace ember {

static DType g_default_dtype = DType::Float32;
DType default_dtype() { return g_default_dtype; }
void set_default_dtype(DType t) {
  EMBER_CHECK(is_floating(t), TypeError, "set_default_dtype: only floating-point types are supported, got ", t);
  g_default_dtype = t;
}

Device::Device(const std::string& spec) {
  std::string s = spec, idx;
  auto colon = s.find(':');
  if (colon != std::string::npos) { idx = s.substr(colon + 1); s = s.substr(0, colon); }
  if (s == "cpu") {
    type = DeviceType::CPU;
    index = -1;
    EMBER_CHECK(idx.empty() || idx == "0", RuntimeError, "device: invalid CPU device '", spec, "'");
  } else if (s == "cuda") {
    type = DeviceType::CUDA;
    index = -1;
    if (!idx.empty()) {
      EMBER_CHECK(std::all_of(idx.begin(), idx.end(), ::isdigit), RuntimeError,
                  "device: invalid device string '", spec, "'");
      index = std::stoi(idx);
    }
  } else {
    throw RuntimeError(::ember::str("device: expected one of cpu, cuda device type at start of device string: ", spec));
  }
}

std::string Device::str() const {
  if (type == DeviceType::CPU) return "cpu";
  return index < 0 ? "cuda" : "cuda:" + std::to_string(index);
}

int64_t numel_of(const Shape& s) {
  int64_t n = 1;
  for (auto v : s) n *= v;
  return n;
}

Strides contiguous_strides(const Shape& s) {
  Strides st(s.size());
  int64_t acc = 1;
  for (int64_t i = static_cast<int64_t>(s.size()) - 1; i >= 0; --i) {
    st[i] = acc;
    acc *= std::max<int64_t>(s[i], 1);
  }
  return st;
}

std::string shape_str(const Shape& s) {
  std::ostringstream os;
  os << "(";
  for (size_t i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
  if (s.size() == 1) os << ",";
  os << ")";
  return os.str();
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    EMBER_CHECK(da == db || da == 1 || db == 1, ValueError, op, ": shapes ", shape_str(a), " and ",
                shape_str(b), " cannot be broadcast (size ", da, " != ", db, " at dim ", i, ")");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op) {
  int64_t n = std::max<int64_t>(ndim, 1);
  EMBER_CHECK(dim >= -n && dim < n, IndexError, op, ": dimension out of range (expected to be in range of [",
              -n, ", ", n - 1, "], but got ", dim, ")");
  return dim < 0 ? dim + n : dim;
}

std::vector<int64_t> wrap_dims(const std::vector<int64_t>& dims, int64_t ndim, const char* op) {
  std::vector<int64_t> out;
  for (auto d : dims) {
    int64_t w = wrap_dim(d, ndim, op);
    EMBER_CHECK(std::find(out.begin(), out.end(), w) == out.end(), RuntimeError, op, ": dim ", w,
                " appears multiple times in the list of dims");
    out.push_back(w);
  }
  std::sort(out.begin(), out.end());
  if (ndim == 0) out.clear();
  return out;
}

}  // namespace ember
