import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';

// Conversation definitions are data in JSON or YAML, chosen by the file's extension. Node-only:
// read by activities, the client and the CLI, never by workflow code.

export function isYamlFile(file: string): boolean {
  return /\.ya?ml$/i.test(file);
}

/** Parses a definition file's text; the error names the file and the format it was read as. */
export function parseDefinitionText(text: string, file: string): unknown {
  const yaml = isYamlFile(file);
  try {
    return yaml ? parseYaml(text) : JSON.parse(text);
  } catch (err) {
    throw new Error(`${file} is not valid ${yaml ? 'YAML' : 'JSON'}: ${(err as Error).message}`, { cause: err });
  }
}

export function readDefinitionFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
  }
  return parseDefinitionText(text, file);
}
