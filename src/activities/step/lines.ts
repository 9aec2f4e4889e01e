import { StringDecoder } from 'node:string_decoder';

// Turns a byte stream into lines for callbacks and keeps bounded tails, so a program that
// prints gigabytes costs memory proportional to the tail, not to its output.

/** Longest line handed to callbacks; longer ones are cut (a protocol line is never this long). */
export const MAX_LINE_CHARS = 1 << 20;

export class LineSplitter {
  private readonly decoder = new StringDecoder('utf8');
  private partial = '';

  constructor(private readonly onLine: (line: string) => void) {}

  push(chunk: Buffer): void {
    const text = this.partial + this.decoder.write(chunk);
    let start = 0;
    for (let nl = text.indexOf('\n', start); nl !== -1; nl = text.indexOf('\n', start)) {
      this.emit(text.slice(start, nl));
      start = nl + 1;
    }
    this.partial = text.slice(start);
    if (this.partial.length > MAX_LINE_CHARS) {
      this.emit(this.partial);
      this.partial = '';
    }
  }

  end(): void {
    const rest = this.partial + this.decoder.end();
    this.partial = '';
    if (rest.length > 0) this.emit(rest);
  }

  private emit(line: string): void {
    this.onLine((line.endsWith('\r') ? line.slice(0, -1) : line).slice(0, MAX_LINE_CHARS));
  }
}

/** The last `size` lines, each cut to `maxChars`. */
export class Tail {
  private readonly lines: string[] = [];

  constructor(
    private readonly size: number,
    private readonly maxChars = 1000,
  ) {}

  push(line: string): void {
    this.lines.push(line.length > this.maxChars ? `${line.slice(0, this.maxChars)}…` : line);
    if (this.lines.length > this.size) this.lines.shift();
  }

  toArray(): string[] {
    return [...this.lines];
  }
}
