#include "common/thread_index.h"

namespace tollgate {

namespace {
thread_local int t_loop_index = -1;
}

int currentLoopIndex() { return t_loop_index; }
void setCurrentLoopIndex(int i) { t_loop_index = i; }

}  // namespace tollgate
