/* xinhe C API umbrella: include this one header. Rules for every call are in base.h. */
#ifndef XINHE_XINHE_H_
#define XINHE_XINHE_H_

#include "xinhe/base.h"
#include "xinhe/runtime.h"
#include "xinhe/ops.h"

#endif /* XINHE_XINHE_H_ */
