/* A stand-in for a vendor runtime library (libcuda.so.1 and friends). The needs_vendor test
 * plugin links it but is built without a run path to it, so dlopen of that plugin fails the
 * way a plugin fails on a machine without the vendor driver. */
int xinhe_test_vendor_init(void) { return 0; }
