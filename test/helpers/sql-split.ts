/**
 * How Supabase's CLI cuts a migration file into statements before sending each on its own: a port
 * of supabase/cli @ 1d1e7191268e068fe9cb6aba524d1c619a9c727b, apps/cli-go/pkg/parser/state.go and
 * token.go (`SplitAndTrim`), state for state, quirks included (a `;` ends a statement unless it is
 * inside quotes, a dollar-quoted body, a comment, parentheses or BEGIN ATOMIC … END). The CLI
 * applies what this yields, so a file it would cut wrongly must fail here too.
 */

/** The next state after rune `r`; `data` is the statement so far, `r` included. Null: emit it. */
interface State {
  next(r: string, data: string): State | null;
}

const isLetterOrDigit = (r: string) => /^[\p{L}\p{Nd}]$/u.test(r);
const isIdentifierRune = (r: string) => isLetterOrDigit(r) || r === '_' || r === '$';
const lastRune = (s: string) => [...s].pop() ?? '';

class Ready implements State {
  next(r: string, data: string): State | null {
    switch (r) {
      case '$':
        return new Tag(data.length - r.length);
      case "'":
      case '"':
        return new Quote(r);
      case '-':
        return new Comment();
      case '/':
        return new Block();
      case '\\':
        return new Escape();
      case ';':
        return null;
      case '(':
        return new Atomic(this, ')');
      case 'c':
      case 'C':
        if (isBeginAtomic(data)) return new Atomic(this, 'END');
    }
    return this;
  }
}

function isBeginAtomic(data: string): boolean {
  const offset = data.length - 'ATOMIC'.length;
  if (offset < 0 || data.slice(offset).toUpperCase() !== 'ATOMIC') return false;
  if (offset > 0 && isIdentifierRune(lastRune(data.slice(0, offset)))) return false;
  const prefix = data.slice(0, offset).trimEnd();
  const begin = prefix.length - 'BEGIN'.length;
  if (begin < 0 || prefix.slice(begin).toUpperCase() !== 'BEGIN') return false;
  return begin === 0 || !isIdentifierRune(lastRune(prefix.slice(0, begin)));
}

class Comment implements State {
  next(r: string, data: string): State | null {
    // `--`: nothing is escaped until the end of the line.
    if (r === '-') return new Dollar('\n');
    return new Ready().next(r, data);
  }
}

class Block implements State {
  private depth = 0;
  next(r: string, data: string): State | null {
    const window = data.slice(-2);
    if (window === '/*') {
      this.depth += 1;
      return this;
    }
    if (this.depth === 0) return new Ready().next(r, data);
    if (window === '*/') {
      this.depth -= 1;
      if (this.depth === 0) return new Ready();
    }
    return this;
  }
}

class Quote implements State {
  private escape = false;
  constructor(private readonly delimiter: string) {}
  next(r: string, data: string): State | null {
    if (this.escape) {
      // A doubled quote stays inside.
      if (r === this.delimiter) {
        this.escape = false;
        return this;
      }
      return new Ready().next(r, data);
    }
    if (r === this.delimiter) this.escape = true;
    return this;
  }
}

class Dollar implements State {
  constructor(private readonly delimiter: string) {}
  next(_r: string, data: string): State | null {
    return data.endsWith(this.delimiter) ? new Ready() : this;
  }
}

class Tag implements State {
  constructor(private readonly offset: number) {}
  next(r: string, data: string): State | null {
    if (r === '$') return new Dollar(data.slice(this.offset));
    if (isLetterOrDigit(r) || r === '_') return this;
    return new Ready().next(r, data);
  }
}

class Escape implements State {
  next(): State | null {
    return new Ready();
  }
}

class Atomic implements State {
  constructor(
    private prev: State,
    private readonly delimiter: string,
  ) {}
  next(r: string, data: string): State | null {
    // Inside a quote or comment the delimiter does not count.
    const curr = this.prev.next(r, data);
    if (curr !== null) this.prev = curr;
    if (this.prev instanceof Ready && data.slice(-this.delimiter.length).toUpperCase() === this.delimiter.toUpperCase()) {
      return new Ready();
    }
    return this;
  }
}

/** `Split`: the statements of `sql` as cut, each with its `;`, comments and spaces. */
export function split(sql: string): string[] {
  const tokens: string[] = [];
  let state: State = new Ready();
  let data = '';
  for (const r of sql) {
    data += r;
    const next = state.next(r, data);
    if (next === null) {
      tokens.push(data);
      data = '';
      state = new Ready();
    } else {
      state = next;
    }
  }
  if (data.length > 0) tokens.push(data);
  return tokens;
}

/** `SplitAndTrim`: what the CLI sends, trailing `;` and surrounding space trimmed, empty ones dropped. */
export function splitAndTrim(sql: string): string[] {
  return split(sql)
    .map((token) => token.replace(/;+$/, '').trim())
    .filter((statement) => statement.length > 0);
}
