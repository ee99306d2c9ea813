/**
 * Finds the GTID position a dump carries, while the dump streams past (it is never buffered).
 * The statement starts at the beginning of a line with `marker` (from the flavor) and ends at the
 * next `;`. A dump escapes newlines inside string values, so a line start is never inside data.
 * The last such statement wins.
 */
export class DumpPositionScanner {
  private readonly marker: Buffer;
  private carry: Buffer = Buffer.alloc(0);
  private statement: string | null = null;
  private found: string | null = null;
  private malformed = false;

  /**
   * @param marker text that starts the statement, including the leading newline
   * @param parse the position from the statement's text after the marker, or null
   * @param maxStatementBytes a longer statement is given up on (a GTID set is far shorter)
   */
  constructor(
    marker: string,
    private readonly parse: (statement: string) => string | null,
    private readonly maxStatementBytes = 1 << 20,
  ) {
    this.marker = Buffer.from(marker, 'utf8');
  }

  /** The last position found so far; null when none (yet). */
  get position(): string | null {
    return this.found;
  }

  /** True when a marker was seen but what followed could not be parsed. */
  get sawMalformed(): boolean {
    return this.malformed;
  }

  push(chunk: Buffer): void {
    let rest = chunk;
    while (rest.length > 0) rest = this.statement === null ? this.search(rest) : this.capture(rest);
  }

  /** Looks for the marker (also across the chunk boundary); returns what follows it, or nothing. */
  private search(chunk: Buffer): Buffer {
    const data = this.carry.length > 0 ? Buffer.concat([this.carry, chunk]) : chunk;
    const at = data.indexOf(this.marker);
    if (at < 0) {
      const keep = Math.min(data.length, this.marker.length - 1);
      this.carry = Buffer.from(data.subarray(data.length - keep));
      return Buffer.alloc(0);
    }
    this.carry = Buffer.alloc(0);
    this.statement = '';
    return data.subarray(at + this.marker.length);
  }

  /** Collects the statement up to its `;`; returns what follows. */
  private capture(chunk: Buffer): Buffer {
    const end = chunk.indexOf(0x3b); // ';'
    const part = chunk.subarray(0, end < 0 ? chunk.length : end).toString('utf8');
    this.statement = (this.statement ?? '') + part;
    if (end < 0) {
      if (this.statement.length > this.maxStatementBytes) {
        this.statement = null;
        this.malformed = true;
      }
      return Buffer.alloc(0);
    }
    const parsed = this.parse(this.statement);
    if (parsed === null) this.malformed = true;
    else this.found = parsed;
    this.statement = null;
    // Keep the ';' in the stream so a newline right after it can start the next marker.
    return chunk.subarray(end);
  }
}
