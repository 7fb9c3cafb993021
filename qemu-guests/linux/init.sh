#!/bin/busybox sh
# /init of the livemig Linux test guest. Reads "lmw=MODE,MIB[,HOT_PERCENT[,PAGES_PER_SEC]]" from the kernel command
# line (default idle,16) and runs the workload (/bin/lmw) on the serial console; if it ever exits,
# says so and keeps the guest alive so the host sees the message rather than a panic.
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
/bin/busybox mount -t devtmpfs devtmpfs /dev 2>/dev/null
spec=idle,16
for arg in $(/bin/busybox cat /proc/cmdline); do
  case "$arg" in lmw=*) spec="${arg#lmw=}" ;; esac
done
IFS=, read -r mode mib hot rate <<SPEC
$spec
SPEC
echo "LMW boot uptime=$(/bin/busybox cut -d' ' -f1 /proc/uptime) spec=$spec"
/bin/lmw "$mode" "$mib" ${hot:-10} $rate
echo "LMW exited status=$?"
while :; do /bin/busybox sleep 3600; done
