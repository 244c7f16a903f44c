// Bindings for the index family.
#include "common.h"

namespace ember::py_bind {

void bind_index(py::module_& m) {}

}  // namespace ember::py_bind
