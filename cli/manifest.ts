// Reading manifests: files, directories and stdin; multi-document YAML, JSON, and `kind: List`.
// Every problem is reported with its file and document number, and nothing is returned for a set
// that has any, so that a bad document stops the whole apply.
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { isPlainObject } from '../protocol/schema.ts';

export interface ManifestDoc {
  source: string;
  /** 1-based position of the document in its source. */
  index: number;
  object: Record<string, unknown>;
}

export interface ManifestProblem {
  source: string;
  index?: number;
  message: string;
}

export class ManifestError extends Error {
  constructor(readonly problems: ManifestProblem[]) {
    super(problems.map(formatProblem).join('\n'));
  }
}

export function formatProblem(p: ManifestProblem): string {
  return `${p.source}${p.index !== undefined ? `, document ${p.index}` : ''}: ${p.message}`;
}

const EXTENSIONS = /\.(ya?ml|json)$/i;

async function expandPath(path: string, recursive: boolean, out: string[]): Promise<void> {
  let st;
  try {
    st = await stat(path);
  } catch {
    throw new ManifestError([{ source: path, message: 'no such file or directory' }]);
  }
  if (!st.isDirectory()) {
    out.push(path);
    return;
  }
  for (const entry of (await readdir(path, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
    const full = join(path, entry.name);
    if (entry.isDirectory()) {
      if (recursive) await expandPath(full, recursive, out);
    } else if (EXTENSIONS.test(entry.name)) out.push(full);
  }
}

/** Parses one source's text into documents, appending problems rather than stopping at the first. */
export function parseManifestText(source: string, text: string, problems: ManifestProblem[]): ManifestDoc[] {
  const docs: ManifestDoc[] = [];
  const push = (value: unknown, index: number) => {
    if (value === null || value === undefined) return;
    if (!isPlainObject(value)) {
      problems.push({ source, index, message: 'must be a map with apiVersion, kind and metadata' });
      return;
    }
    if (value.kind === 'List' && Array.isArray(value.items)) {
      value.items.forEach((item) => push(item, index));
      return;
    }
    docs.push({ source, index, object: value });
  };
  const trimmed = text.trimStart();
  if (source.endsWith('.json') || trimmed.startsWith('{') || trimmed.startsWith('[')) {
    try {
      const parsed = JSON.parse(text);
      (Array.isArray(parsed) ? parsed : [parsed]).forEach((v, i) => push(v, i + 1));
    } catch (err) {
      problems.push({ source, message: `invalid JSON: ${(err as Error).message}` });
    }
    return docs;
  }
  parseAllDocuments(text, { version: '1.1', prettyErrors: false }).forEach((doc, i) => {
    if (doc.errors.length) {
      for (const e of doc.errors) {
        const pos = e.linePos?.[0];
        problems.push({ source, index: i + 1, message: `YAML syntax error${pos ? ` at line ${pos.line}, column ${pos.col}` : ''}: ${e.message.split('\n')[0]}` });
      }
      return;
    }
    push(doc.toJS(), i + 1);
  });
  return docs;
}

export async function readManifests(paths: string[], opts: { recursive: boolean; readStdin: () => Promise<string> }): Promise<ManifestDoc[]> {
  const problems: ManifestProblem[] = [];
  const docs: ManifestDoc[] = [];
  for (const p of paths) {
    if (p === '-') {
      docs.push(...parseManifestText('<stdin>', await opts.readStdin(), problems));
      continue;
    }
    const files: string[] = [];
    try {
      await expandPath(p, opts.recursive, files);
    } catch (err) {
      if (err instanceof ManifestError) problems.push(...err.problems);
      else throw err;
      continue;
    }
    if (files.length === 0) problems.push({ source: p, message: 'no .yaml, .yml or .json files in this directory (use -R to look in subdirectories)' });
    for (const f of files) docs.push(...parseManifestText(f, await readFile(f, 'utf8'), problems));
  }
  if (problems.length) throw new ManifestError(problems);
  return docs;
}
