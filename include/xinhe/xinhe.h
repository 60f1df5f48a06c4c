/* xinhe C API umbrella: include this one header. Rules for every call are in base.h. The C
 * headers need C99 or later (or any C++); the C++ layer, xinhe.hpp, needs C++14. */
#ifndef XINHE_XINHE_H_
#define XINHE_XINHE_H_

#include "xinhe/base.h"
#include "xinhe/runtime.h"
#include "xinhe/ops.h"

#endif /* XINHE_XINHE_H_ */
