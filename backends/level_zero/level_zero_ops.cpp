// Level Zero ops: not built yet (the runtime half of the backend comes first).
#include "level_zero_internal.h"

namespace xinhe::level_zero {

xinhe_status_t create_op(Device* device, const xinhe_be_op_desc_t&, std::unique_ptr<Op>*) {
  return make_status(device->host(), XINHE_STATUS_UNIMPLEMENTED, "op_create", __FILE__, __LINE__,
                     "Level Zero ops are not implemented yet");
}

}  // namespace xinhe::level_zero
