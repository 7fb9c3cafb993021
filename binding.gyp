{
  "targets": [
    {
      "target_name": "livemig_native",
      "sources": ["native/livemig_native.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-O3", "-std=c11", "-Wall", "-Wextra", "-fvisibility=hidden"],
      "cflags!": ["-O2"],
      "libraries": ["-l:liblz4.so.1", "-l:libzstd.so.1"]
    }
  ]
}
