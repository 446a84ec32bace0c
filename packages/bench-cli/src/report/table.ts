/** A table as plain-text cells; `numeric[i]` says column i holds numbers (right-aligned). */
export interface ReportTable {
  header: string[];
  numeric: boolean[];
  rows: string[][];
}
