// Bindings for the linalg family.
#include "common.h"

namespace ember::py_bind {

void bind_linalg(py::module_& m) {}

}  // namespace ember::py_bind
