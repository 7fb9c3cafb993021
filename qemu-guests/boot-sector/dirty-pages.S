/*
 * livemig boot-sector guest (GNU as, assembled with --defsym END_MIB=N, linked at 0x7c00).
 *
 * In the manner of QEMU's migration-test guest: switch to 32-bit protected mode, then forever
 * increment the first byte of every 4 KiB page in [1 MiB, END_MIB MiB) and write one 'B' to the
 * serial port (0x3f8) after each pass ('A' once at start). A destination that lost an update has a
 * page whose byte differs from its neighbours by more than the single "edge" where the loop stands,
 * which src/qemu/guests/check-guest-ram.ts detects.
 */
        .set START_ADDR, 0x100000
        .set END_ADDR, END_MIB * 0x100000
        .set COM1, 0x3f8

        .code16
        .globl _start
_start:
        cli
        xorw    %ax, %ax
        movw    %ax, %ds
        movw    %ax, %ss
        movw    $0x7c00, %sp
        /* A20 through the "fast A20" port so addresses above 1 MiB do not wrap. */
        inb     $0x92, %al
        orb     $0x02, %al
        andb    $0xfe, %al
        outb    %al, $0x92
        lgdtl   gdt_desc
        movl    %cr0, %eax
        orl     $1, %eax
        movl    %eax, %cr0
        ljmpl   $0x08, $protected

        .code32
protected:
        movw    $0x10, %ax
        movw    %ax, %ds
        movw    %ax, %es
        movw    %ax, %ss
        movl    $0x7c00, %esp
        movw    $COM1, %dx
        movb    $'A', %al
        outb    %al, %dx
pass:
        movl    $START_ADDR, %eax
page:
        incb    (%eax)
        addl    $4096, %eax
        cmpl    $END_ADDR, %eax
        jb      page
        movb    $'B', %al
        outb    %al, %dx
        jmp     pass

        /* Flat 4 GiB code (0x08) and data (0x10) segments. */
        .p2align 3
gdt:
        .quad   0
        .quad   0x00cf9a000000ffff
        .quad   0x00cf92000000ffff
gdt_desc:
        .word   gdt_desc - gdt - 1
        .long   gdt

        .org    510
        .byte   0x55, 0xaa
