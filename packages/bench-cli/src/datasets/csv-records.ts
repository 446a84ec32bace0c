import { DualgradError } from "@dualgrad/core";

/** One parsed field and the line it starts on (a quoted field may span lines). */
export interface CsvField {
  text: string;
  line: number;
  /** Written in quotes (so `""` is an explicit empty value, not a blank line). */
  quoted: boolean;
}

/** One record (row) of fields and the line it starts on. */
export interface CsvRecord {
  line: number;
  /** The fields, at most {@link CsvRecordReader.maxFields} of them. */
  fields: CsvField[];
  /** How many fields the record has, including any beyond `maxFields` (counted, not kept). */
  fieldCount: number;
}

const COMMA = 44;
const LF = 10;
const CR = 13;
const QUOTE = 34;

function isBlank(c: number): boolean {
  return c === 32 || c === 9;
}

/**
 * Splits CSV text into records as it arrives in pieces, RFC 4180 style: fields separated by
 * commas; a field that starts with `"` is quoted and may contain commas, line breaks and doubled
 * quotes (`""` for `"`); CRLF, LF and a lone CR all end a record. Blank lines are skipped (a real
 * record of at least two columns is never blank, and editors often leave a trailing empty line).
 * Spaces around a quoted field (`1, "2"`, common in hand-written files) are ignored; quotes inside
 * an unquoted field are kept literally, as most spreadsheet programs do.
 *
 * Only the unfinished last record is kept between pieces, so memory is one record, not the file.
 * A record is parsed again from its start when more text arrives; to keep that linear for a
 * hostile record as long as the file (one huge quoted field), a retry waits until the held text
 * has doubled.
 */
export class CsvRecordReader {
  private pending = "";
  /** The line the pending text starts on (1-based, CRLF being one break). */
  private line = 1;
  /** Parse again only once the pending text is at least this long. */
  private retryAt = 0;
  /**
   * Fields kept per record; more are counted but not stored, so one hostile line of a hundred
   * million commas costs no memory (the caller reports the count).
   */
  maxFields = Infinity;

  /** @param file names the file in errors (`file:line: ...`). */
  constructor(private readonly file: string) {}

  /** Adds the next piece of text, calling `onRecord` for every record it completes. */
  push(text: string, onRecord: (record: CsvRecord) => void): void {
    this.pending += text;
    if (this.pending.length >= this.retryAt) this.drain(false, onRecord);
  }

  /** Ends the input: the text held back is parsed as the last record(s). */
  end(onRecord: (record: CsvRecord) => void): void {
    this.drain(true, onRecord);
  }

  private drain(eof: boolean, onRecord: (record: CsvRecord) => void): void {
    const text = this.pending;
    let i = 0;
    while (i < text.length) {
      const record = this.parseRecord(text, i, eof);
      if (record === null) break;
      i = record.next;
      this.line = record.nextLine;
      const f = record.fields;
      const blank = f.length === 1 && !f[0].quoted && f[0].text.trim() === "";
      if (!blank) onRecord({ line: record.line, fields: f, fieldCount: record.fieldCount });
    }
    this.pending = text.slice(i);
    this.retryAt = 2 * this.pending.length;
  }

  /**
   * The record starting at `start`, or null when the text ends before the record does and more
   * may come (`eof` false). Every look past the end of the text is such a case: a CR whose LF
   * may follow, a closing quote that may be the first of `""`.
   */
  private parseRecord(
    text: string,
    start: number,
    eof: boolean,
  ): { line: number; fields: CsvField[]; fieldCount: number; next: number; nextLine: number } | null {
    const n = text.length;
    const file = this.file;
    let i = start;
    let line = this.line;
    const recordLine = line;
    const fields: CsvField[] = [];
    let dropped = 0;
    for (;;) {
      const fieldLine = line;
      let value: string;
      let j = i;
      while (j < n && isBlank(text.charCodeAt(j))) j++;
      if (j >= n && !eof) return null;
      const quoted = text.charCodeAt(j) === QUOTE;
      if (quoted) {
        i = j + 1;
        let parts = "";
        for (;;) {
          const q = text.indexOf('"', i);
          if (q < 0) {
            if (!eof) return null;
            throw new DualgradError(`${file}:${fieldLine}: unterminated quoted field (its opening quote is on this line; a quote inside a quoted field is written "")`);
          }
          // Count the line breaks inside the quoted text so later line numbers stay right.
          for (let k = i; k < q; k++) {
            const c = text.charCodeAt(k);
            if (c === LF || (c === CR && text.charCodeAt(k + 1) !== LF)) line++;
          }
          parts += text.slice(i, q);
          if (q + 1 >= n && !eof) return null;
          if (text.charCodeAt(q + 1) === QUOTE) {
            parts += '"';
            i = q + 2;
            continue;
          }
          i = q + 1;
          break;
        }
        value = parts;
        while (i < n && isBlank(text.charCodeAt(i))) i++;
        if (i >= n && !eof) return null;
        const c = text.charCodeAt(i);
        if (i < n && c !== COMMA && c !== LF && c !== CR) {
          throw new DualgradError(
            `${file}:${line}: field ${fields.length + dropped + 1}: unexpected ${JSON.stringify(text[i])} after a closing quote (quote the whole field, and write a quote inside it as "")`,
          );
        }
      } else {
        let end = i;
        while (end < n) {
          const c = text.charCodeAt(end);
          if (c === COMMA || c === LF || c === CR) break;
          end++;
        }
        if (end >= n && !eof) return null;
        value = text.slice(i, end);
        i = end;
      }
      if (fields.length < this.maxFields) fields.push({ text: value, line: fieldLine, quoted });
      else dropped++;
      if (i < n && text.charCodeAt(i) === COMMA) {
        i++;
        continue;
      }
      // End of record: a line break, or the end of the text.
      const c = text.charCodeAt(i);
      if (c === CR) {
        if (i + 1 >= n && !eof) return null;
        i += text.charCodeAt(i + 1) === LF ? 2 : 1;
        line++;
      } else if (c === LF) {
        i++;
        line++;
      }
      return { line: recordLine, fields, fieldCount: fields.length + dropped, next: i, nextLine: line };
    }
  }
}
