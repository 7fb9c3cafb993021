/**
 * Incremental parser of QEMU's migration stream (formats of QEMU 7.2 and 10.0).
 *
 * Grammar it understands (big-endian; docs: shared/reference/qemu-migration.md §1, qemu10-format.md):
 *
 *     stream   = header [configuration] top* 
 *     header   = "QEVM" be32(3)
 *     config   = 0x07 be32 len name{len} (0x05 u8 len name be32 ver fields)*
 *     top      = command | ram-start | ram-part | eof [vmdesc]
 *     command  = 0x08 be16 cmd be16 len payload{len}                  (PACKAGED → pass-through)
 *     ram-start= 0x01 be32 sid 0x03 "ram" be32 0 be32 4  be64(total|MEM_SIZE) block* records [footer]
 *     ram-part = (0x02|0x03) be32 sid records [footer]
 *     records  = (page | zero | xbzrle | be64 MULTIFD_FLUSH)* be64 EOS
 *     footer   = 0x7e be32 sid
 *     vmdesc   = 0x06 be32 len json{len}
 *
 * Anything else (a FULL device section, whose payload has no length; an unknown section, flag or
 * block) switches the parser to byte-transparent pass-through for the rest of the stream, after a
 * `passthrough {reason}` event. Every byte pushed comes back in exactly one event, in order, so
 * `QemuStreamWriter` rebuilds the stream byte for byte.
 *
 * Incremental: `push` accepts chunks split anywhere; a unit (one record, one header) that is not
 * complete yet stays buffered (at most one unit, < 64 KiB + one chunk). `end` raises
 * LIVEMIG_E_QEMU_STREAM_TRUNCATED unless the stream ended where a QEMU stream can end.
 */

import { LivemigError } from '../../core/errors.js';
import { xbzrleValidate } from '../../codec/xbzrle.js';
import {
  DEFAULT_TARGET_PAGE_BITS, ENCODING_FLAG_XBZRLE, MIG_CMD_PACKAGED, MIG_CMD_POSTCOPY_ADVISE, QEMU_VM_FILE_MAGIC,
  QEMU_VM_FILE_VERSION, RAM_SECTION_IDSTR, RamFlag, Section,
} from './constants.js';
import type { OpaquePart, RamBlockInfo, RamRecordType, StreamEvent } from './types.js';

/** Options of a QemuStreamParser. */
export interface QemuStreamParserOptions {
  /**
   * Bytes of the pass-through tail kept to check, at `end`, that the stream closes with a complete
   * vmdesc. @default 4194304 (4 MiB; QEMU's vmdesc is ~100 KB for a PC guest)
   */
  tailWindowBytes?: number;
  /**
   * Whether a stream in pass-through must end with EOF + vmdesc (QEMU sends one unless the machine
   * suppresses it or postcopy ran). When false, a final 0x00 (EOF) is accepted too. @default true
   */
  expectVmdesc?: boolean;
  /** Most RAM blocks accepted in a START section before giving up (pass-through). @default 4096 */
  maxBlocks?: number;
}

type State =
  | 'header' | 'config-sub' | 'top' | 'ram-total' | 'ram-blocks' | 'ram-records' | 'footer'
  | 'vmdesc-body' | 'after-eof' | 'done' | 'passthrough';

/** Sentinel: the current unit needs more bytes. */
const MORE = false;
const TWO32 = 0x1_0000_0000;
const EMPTY = new Uint8Array(0);
const latin1 = new TextDecoder('latin1');

/** Statistics of what the parser has seen so far. */
export interface QemuStreamParserStats {
  /** Bytes pushed and parsed (emitted), in bytes. */
  bytesIn: number;
  /** RAM page records emitted. */
  ramRecords: number;
  /** ram sections (START, PART, END) parsed. */
  ramSections: number;
  /** Whether the parser switched to pass-through. */
  passthrough: boolean;
}

/** The incremental parser. One instance per stream. */
export class QemuStreamParser {
  readonly #tailWindowBytes: number;
  readonly #expectVmdesc: boolean;
  readonly #maxBlocks: number;

  #buf: Uint8Array = EMPTY;
  #pos = 0;
  /** Stream offset of #buf[#pos]. */
  #offset = 0;
  #state: State = 'header';
  #out: StreamEvent[] = [];
  #ended = false;

  #pageSize = 2 ** DEFAULT_TARGET_PAGE_BITS;
  #ignoreShared = false;
  #postcopyAdvised = false;
  #ramSectionId = -1;
  #sectionId = -1;
  #ramTotalLeft = 0;
  #blocks: RamBlockInfo[] = [];
  #blockByName = new Map<string, number>();
  #nextFirstPage = 0;
  #lastBlock = -1;
  #vmdescLeft = 0;
  #ramRecords = 0;
  #ramSections = 0;
  // Last bytes seen in pass-through (newest last), for the end-of-stream check.
  #tail: Uint8Array[] = [];
  #tailBytes = 0;

  constructor(options: QemuStreamParserOptions = {}) {
    this.#tailWindowBytes = options.tailWindowBytes ?? 4 * 1024 * 1024;
    this.#expectVmdesc = options.expectVmdesc ?? true;
    this.#maxBlocks = options.maxBlocks ?? 4096;
  }

  /** Target page size in bytes (4096 unless the configuration says otherwise). */
  get pageSize(): number {
    return this.#pageSize;
  }

  /** RAM blocks of the START section (empty before it). */
  get blocks(): readonly RamBlockInfo[] {
    return this.#blocks;
  }

  stats(): QemuStreamParserStats {
    return { bytesIn: this.#offset, ramRecords: this.#ramRecords, ramSections: this.#ramSections, passthrough: this.#state === 'passthrough' };
  }

  /**
   * Parses `chunk` and returns the events it completes (possibly none). The events may reference
   * `chunk`'s memory: do not modify it afterwards.
   */
  push(chunk: Uint8Array): StreamEvent[] {
    if (this.#ended) throw new LivemigError('LIVEMIG_E_INTERNAL', 'QemuStreamParser.push() after end()', { phase: 'qemu-stream' });
    if (chunk.length === 0) return [];
    const rest = this.#buf.length - this.#pos;
    if (rest === 0) {
      this.#buf = chunk;
      this.#pos = 0;
      this.#run();
    } else {
      // A unit straddles the chunks: join the leftover with only the head of the new chunk (enough
      // for any page record), finish that unit, then go on in the chunk itself: copying every whole
      // chunk cost more than parsing it.
      const take = Math.min(chunk.length, 2 * this.#pageSize + 1024);
      this.#buf = concat([this.#buf.subarray(this.#pos), chunk.subarray(0, take)], rest + take);
      this.#pos = 0;
      this.#run();
      if (take < chunk.length) {
        const intoChunk = this.#pos - rest;
        if (intoChunk >= 0) {
          this.#buf = chunk;
          this.#pos = intoChunk;
        } else {
          // A unit longer than the head (a large COMMAND): join everything, as before.
          this.#buf = concat([this.#buf.subarray(this.#pos), chunk.subarray(take)], this.#buf.length - this.#pos + chunk.length - take);
          this.#pos = 0;
        }
        this.#run();
      }
    }
    const out = this.#out;
    this.#out = [];
    return out;
  }

  /**
   * Declares the end of the stream. Returns nothing new (every complete byte was already emitted)
   * or throws LIVEMIG_E_QEMU_STREAM_TRUNCATED when the stream stopped where QEMU's cannot.
   */
  end(): StreamEvent[] {
    if (this.#ended) return [];
    this.#ended = true;
    const left = this.#buf.length - this.#pos;
    if (left > 0) {
      throw this.#truncated(`${left} bytes of an incomplete ${this.#describeState()} are left over`);
    }
    if (this.#state === 'done' || this.#state === 'after-eof') return [];
    if (this.#state === 'passthrough') {
      if (this.#tailEndsStream()) return [];
      throw this.#truncated(this.#expectVmdesc
        ? 'the pass-through part does not end with EOF and a complete vmdesc'
        : 'the pass-through part does not end with EOF');
    }
    throw this.#truncated(`the stream stopped inside ${this.#describeState()}`);
  }

  #truncated(detail: string): LivemigError {
    return new LivemigError(
      'LIVEMIG_E_QEMU_STREAM_TRUNCATED',
      `QEMU migration stream cut at byte ${this.#offset + (this.#buf.length - this.#pos)}: ${detail}; the capture or connection ended early, do not load it`,
      { phase: 'qemu-stream' },
    );
  }

  #describeState(): string {
    switch (this.#state) {
      case 'header': return 'the file header';
      case 'config-sub': return 'the configuration section';
      case 'top': return 'the section list (no EOF yet)';
      case 'ram-total':
      case 'ram-blocks': return 'the ram START block list';
      case 'ram-records': return 'a ram section';
      case 'footer': return 'a section footer';
      case 'vmdesc-body': return `the vmdesc JSON (${this.#vmdescLeft} bytes missing)`;
      default: return this.#state;
    }
  }

  // ---- byte helpers over #buf[#pos..] --------------------------------------------------------

  #avail(): number {
    return this.#buf.length - this.#pos;
  }

  #u8(at: number): number {
    return this.#buf[this.#pos + at];
  }

  #be16(at: number): number {
    const b = this.#buf, p = this.#pos + at;
    return (b[p] << 8) | b[p + 1];
  }

  #be32(at: number): number {
    const b = this.#buf, p = this.#pos + at;
    return ((b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]) >>> 0;
  }

  /** be64 as a number; exact below 2^53, which every RAM size and offset is. */
  #be64(at: number): number {
    return this.#be32(at) * TWO32 + this.#be32(at + 4);
  }

  #latin1(at: number, n: number): string {
    return latin1.decode(this.#buf.subarray(this.#pos + at, this.#pos + at + n));
  }

  /** Emits the next `n` bytes as one opaque event. */
  #opaque(part: OpaquePart, n: number): void {
    const bytes = this.#buf.subarray(this.#pos, this.#pos + n);
    this.#pos += n;
    this.#offset += n;
    this.#out.push({ kind: 'opaque', part, bytes });
  }

  #passthrough(reason: string): true {
    this.#out.push({ kind: 'passthrough', reason, offset: this.#offset });
    this.#state = 'passthrough';
    return true;
  }

  // ---- the state machine -----------------------------------------------------------------------

  #run(): void {
    // Each step consumes one unit and returns true, or returns MORE (false) without consuming.
    while (this.#avail() > 0) {
      if (!this.#step()) return;
    }
  }

  #step(): boolean {
    switch (this.#state) {
      case 'header': return this.#header();
      case 'config-sub': return this.#configSub();
      case 'top': return this.#top();
      case 'ram-total': return this.#ramTotal();
      case 'ram-blocks': return this.#ramBlock();
      case 'ram-records': return this.#ramRecord();
      case 'footer': return this.#footer();
      case 'vmdesc-body': return this.#vmdescBody();
      case 'after-eof': return this.#afterEof();
      case 'done': return this.#passthrough('bytes follow the vmdesc, which should end the stream');
      case 'passthrough': return this.#passBytes();
    }
  }

  #passBytes(): boolean {
    const n = this.#avail();
    const bytes = this.#buf.subarray(this.#pos, this.#pos + n);
    this.#opaque('passthrough', n);
    this.#tail.push(bytes);
    this.#tailBytes += n;
    while (this.#tail.length > 1 && this.#tailBytes - this.#tail[0].length >= this.#tailWindowBytes) {
      this.#tailBytes -= this.#tail.shift()!.length;
    }
    return true;
  }

  #header(): boolean {
    if (this.#avail() < 8) return MORE;
    if (this.#be32(0) !== QEMU_VM_FILE_MAGIC) {
      throw new LivemigError(
        'LIVEMIG_E_QEMU_STREAM_MALFORMED',
        `not a QEMU migration stream: it starts with 0x${this.#be32(0).toString(16).padStart(8, '0')}, expected "QEVM" (0x5145564d)`,
        { phase: 'qemu-stream' },
      );
    }
    const version = this.#be32(4);
    this.#opaque('header', 8);
    if (version !== QEMU_VM_FILE_VERSION) return this.#passthrough(`stream version ${version}, expected ${QEMU_VM_FILE_VERSION}`);
    this.#state = 'top';
    return true;
  }

  #configuration(): boolean {
    if (this.#avail() < 5) return MORE;
    const len = this.#be32(1);
    if (len > 256) return this.#passthrough(`configuration machine name of ${len} bytes`);
    if (this.#avail() < 5 + len) return MORE;
    this.#opaque('configuration', 5 + len);
    this.#state = 'config-sub';
    return true;
  }

  #configSub(): boolean {
    if (this.#u8(0) !== Section.SUBSECTION) {
      this.#state = 'top';
      return true;
    }
    if (this.#avail() < 2) return MORE;
    const nameLen = this.#u8(1);
    const head = 2 + nameLen + 4;
    if (this.#avail() < head) return MORE;
    const name = this.#latin1(2, nameLen);
    let size: number;
    if (name === 'configuration/target-page-bits') {
      if (this.#avail() < head + 4) return MORE;
      const bits = this.#be32(head);
      if (bits < 10 || bits > 16) return this.#passthrough(`target page bits ${bits}`);
      this.#pageSize = 2 ** bits;
      size = head + 4;
    } else if (name === 'configuration/capabilities') {
      if (this.#avail() < head + 4) return MORE;
      const count = this.#be32(head);
      if (count > 64) return this.#passthrough(`configuration lists ${count} capabilities`);
      let at = head + 4;
      const caps: string[] = [];
      for (let i = 0; i < count; i++) {
        if (this.#avail() < at + 1) return MORE;
        const n = this.#u8(at);
        if (this.#avail() < at + 1 + n) return MORE;
        caps.push(this.#latin1(at + 1, n));
        at += 1 + n;
      }
      if (caps.includes('mapped-ram')) return this.#passthrough('the mapped-ram capability is on (file migration without page records)');
      this.#ignoreShared = caps.includes('x-ignore-shared');
      size = at;
    } else if (name === 'configuration/uuid') {
      size = head + 16;
      if (this.#avail() < size) return MORE;
    } else {
      return this.#passthrough(`unknown configuration subsection '${name}'`);
    }
    this.#opaque('configuration', size);
    return true;
  }

  #top(): boolean {
    const type = this.#u8(0);
    switch (type) {
      case Section.CONFIGURATION: return this.#configuration();
      case Section.COMMAND: return this.#command();
      case Section.START:
      case Section.FULL: return this.#sectionStart(type);
      case Section.PART:
      case Section.END: return this.#sectionPart(type);
      case Section.EOF:
        this.#opaque('eof', 1);
        this.#state = 'after-eof';
        return true;
      case Section.VMDESCRIPTION: return this.#vmdescHeader();
      default:
        return this.#passthrough(`unknown section type 0x${type.toString(16).padStart(2, '0')}`);
    }
  }

  #command(): boolean {
    if (this.#avail() < 5) return MORE;
    const cmd = this.#be16(1);
    const len = this.#be16(3);
    if (cmd === MIG_CMD_PACKAGED) return this.#passthrough('postcopy PACKAGED command (a nested stream follows)');
    if (this.#avail() < 5 + len) return MORE;
    if (cmd === MIG_CMD_POSTCOPY_ADVISE) this.#postcopyAdvised = true;
    this.#opaque('command', 5 + len);
    return true;
  }

  #sectionStart(type: number): boolean {
    if (this.#avail() < 6) return MORE;
    const idLen = this.#u8(5);
    const size = 6 + idLen + 8;
    if (this.#avail() < size) return MORE;
    const sid = this.#be32(1);
    const idstr = this.#latin1(6, idLen);
    const instance = this.#be32(6 + idLen);
    const version = this.#be32(10 + idLen);
    if (type === Section.FULL) return this.#passthrough(`device section '${idstr}' (FULL sections are not self-delimiting)`);
    if (idstr !== RAM_SECTION_IDSTR) return this.#passthrough(`live section '${idstr}' is not understood`);
    if (this.#ramSectionId >= 0) return this.#passthrough('a second ram START section');
    if (instance !== 0 || version !== 4) return this.#passthrough(`ram section instance ${instance} version ${version}, expected 0 and 4`);
    if (this.#postcopyAdvised) return this.#passthrough('postcopy was advised (START block entries may carry page sizes)');
    this.#ramSectionId = sid;
    this.#sectionId = sid;
    this.#ramSections++;
    this.#opaque('section-header', size);
    this.#state = 'ram-total';
    return true;
  }

  #sectionPart(type: number): boolean {
    if (this.#avail() < 5) return MORE;
    const sid = this.#be32(1);
    if (sid !== this.#ramSectionId || this.#ramSectionId < 0) {
      return this.#passthrough(`${type === Section.PART ? 'PART' : 'END'} of section ${sid}, which is not the ram section`);
    }
    this.#sectionId = sid;
    this.#ramSections++;
    this.#opaque('section-header', 5);
    this.#state = 'ram-records';
    return true;
  }

  #ramTotal(): boolean {
    if (this.#avail() < 8) return MORE;
    const v = this.#be64(0);
    const flags = v % this.pageSize;
    if (flags !== RamFlag.MEM_SIZE) return this.#passthrough(`ram START begins with flags 0x${flags.toString(16)}, expected MEM_SIZE`);
    this.#ramTotalLeft = v - flags;
    this.#opaque('ram-blocklist', 8);
    this.#state = this.#ramTotalLeft === 0 ? 'ram-records' : 'ram-blocks';
    if (this.#ramTotalLeft === 0) this.#announceBlocks();
    return true;
  }

  #ramBlock(): boolean {
    const nameLen = this.#u8(0);
    const size = 1 + nameLen + 8 + (this.#ignoreShared ? 8 : 0);
    if (this.#avail() < size) return MORE;
    const name = this.#latin1(1, nameLen);
    const lengthBytes = this.#be64(1 + nameLen);
    if (nameLen === 0 || this.#blockByName.has(name)) return this.#passthrough(`ram block name '${name}' is empty or repeated`);
    if (lengthBytes > this.#ramTotalLeft) return this.#passthrough(`ram block '${name}' is larger than the announced total`);
    if (this.#blocks.length >= this.#maxBlocks) return this.#passthrough(`more than ${this.#maxBlocks} ram blocks`);
    this.#blockByName.set(name, this.#blocks.length);
    this.#blocks.push({ name, lengthBytes, firstPage: this.#nextFirstPage });
    this.#nextFirstPage += Math.ceil(lengthBytes / this.pageSize);
    this.#ramTotalLeft -= lengthBytes;
    this.#opaque('ram-blocklist', size);
    if (this.#ramTotalLeft === 0) {
      this.#announceBlocks();
      this.#state = 'ram-records';
    }
    return true;
  }

  #announceBlocks(): void {
    this.#out.push({ kind: 'ram-blocks', blocks: this.#blocks.map((b) => ({ ...b })), pageSize: this.pageSize });
  }

  #ramRecord(): boolean {
    if (this.#avail() < 8) return MORE;
    const pageSize = this.#pageSize;
    const v = this.#be64(0);
    const flags = v % pageSize;
    const offsetInBlock = v - flags;
    if (flags === RamFlag.EOS) {
      this.#opaque('eos', 8);
      this.#state = 'footer';
      return true;
    }
    if (flags === RamFlag.MULTIFD_FLUSH && offsetInBlock === 0) {
      this.#opaque('multifd-flush', 8);
      return true;
    }
    const base = flags & ~RamFlag.CONTINUE;
    let record: RamRecordType;
    if (base === RamFlag.PAGE) record = 'page';
    else if (base === RamFlag.ZERO) record = 'zero';
    else if (base === RamFlag.XBZRLE) record = 'xbzrle';
    else return this.#passthrough(`ram record with flags 0x${flags.toString(16)}`);

    let at = 8;
    let blockIndex: number;
    if (flags & RamFlag.CONTINUE) {
      if (this.#lastBlock < 0) return this.#passthrough('a ram record continues a block, but no block was named before');
      blockIndex = this.#lastBlock;
    } else {
      if (this.#avail() < 9) return MORE;
      const n = this.#u8(8);
      if (this.#avail() < 9 + n) return MORE;
      const name = this.#latin1(9, n);
      const index = this.#blockByName.get(name);
      if (index === undefined) return this.#passthrough(`ram record names unknown block '${name}'`);
      blockIndex = index;
      at = 9 + n;
    }
    const block = this.#blocks[blockIndex];
    if (offsetInBlock >= block.lengthBytes) {
      return this.#passthrough(`ram record at offset ${offsetInBlock} is past the end of block '${block.name}' (${block.lengthBytes} bytes)`);
    }
    let dataAt = at;
    let dataLen: number;
    if (record === 'page') {
      dataLen = pageSize;
    } else if (record === 'zero') {
      dataLen = 1;
    } else {
      if (this.#avail() < at + 3) return MORE;
      if (this.#u8(at) !== ENCODING_FLAG_XBZRLE) return this.#passthrough(`XBZRLE record with encoding byte 0x${this.#u8(at).toString(16)}`);
      dataLen = this.#be16(at + 1);
      if (dataLen > pageSize) return this.#passthrough(`XBZRLE record of ${dataLen} bytes exceeds the page size`);
      dataAt = at + 3;
    }
    const size = dataAt + dataLen;
    if (this.#avail() < size) return MORE;
    const data = this.#buf.subarray(this.#pos + dataAt, this.#pos + size);
    if (record === 'xbzrle') {
      try {
        xbzrleValidate(data, pageSize);
      } catch {
        return this.#passthrough(`XBZRLE record at offset ${offsetInBlock} of '${block.name}' is not valid XBZRLE`);
      }
    }
    this.#lastBlock = blockIndex;
    this.#pos += size;
    this.#offset += size;
    this.#ramRecords++;
    this.#out.push({ kind: 'ram-page', record, block: block.name, blockIndex, offsetInBlock, flags, data });
    return true;
  }

  #footer(): boolean {
    // Machine types <= 2.3 send no footers: then the next section simply starts here.
    if (this.#u8(0) !== Section.FOOTER) {
      this.#state = 'top';
      return true;
    }
    if (this.#avail() < 5) return MORE;
    const sid = this.#be32(1);
    if (sid !== this.#sectionId) return this.#passthrough(`footer of section ${sid} closes section ${this.#sectionId}`);
    this.#opaque('footer', 5);
    this.#state = 'top';
    return true;
  }

  #vmdescHeader(): boolean {
    if (this.#avail() < 5) return MORE;
    this.#vmdescLeft = this.#be32(1);
    this.#opaque('vmdesc', 5);
    this.#state = this.#vmdescLeft === 0 ? 'done' : 'vmdesc-body';
    return true;
  }

  #vmdescBody(): boolean {
    const n = Math.min(this.#avail(), this.#vmdescLeft);
    this.#opaque('vmdesc', n);
    this.#vmdescLeft -= n;
    if (this.#vmdescLeft === 0) this.#state = 'done';
    return true;
  }

  #afterEof(): boolean {
    if (this.#u8(0) === Section.VMDESCRIPTION) return this.#vmdescHeader();
    return this.#passthrough(`byte 0x${this.#u8(0).toString(16)} follows EOF, expected a vmdesc`);
  }

  /** Whether the pass-through bytes end like a QEMU stream: EOF + vmdesc (or a bare EOF). */
  #tailEndsStream(): boolean {
    const tail = this.#tailBytes === 0 ? EMPTY : concat(this.#tail, this.#tailBytes);
    const n = tail.length;
    if (n === 0) return false;
    if (!this.#expectVmdesc && tail[n - 1] === Section.EOF) return true;
    // Look for 00 06 be32(len) where len reaches exactly the end, and the JSON parses.
    for (let p = n - 6; p >= 0; p--) {
      if (tail[p] !== Section.EOF || tail[p + 1] !== Section.VMDESCRIPTION) continue;
      const len = ((tail[p + 2] << 24) | (tail[p + 3] << 16) | (tail[p + 4] << 8) | tail[p + 5]) >>> 0;
      if (p + 6 + len !== n || len < 2 || tail[p + 6] !== 0x7b /* { */) continue;
      try {
        JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(tail.subarray(p + 6)));
        return true;
      } catch {
        continue;
      }
    }
    return false;
  }
}

function concat(parts: readonly Uint8Array[], total: number): Uint8Array {
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Parses a whole stream in one go (tests, tools). Throws like `end`. */
export function parseStream(bytes: Uint8Array, options?: QemuStreamParserOptions): StreamEvent[] {
  const parser = new QemuStreamParser(options);
  const events = parser.push(bytes);
  events.push(...parser.end());
  return events;
}
