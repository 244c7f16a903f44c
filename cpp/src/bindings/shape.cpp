// Bindings for the shape family.
#include "common.h"

namespace ember::py_bind {

void bind_shape(py::module_& m) {}

}  // namespace ember::py_bind
