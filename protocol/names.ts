// Kubernetes' name and label rules (DNS-1123 and friends). Each check returns the problems as
// sentences, empty when the value is fine.

const LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const QUALIFIED = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;

export function dns1123Label(value: string): string[] {
  const errs: string[] = [];
  if (value.length > 63) errs.push(`must be no more than 63 characters (it has ${value.length})`);
  if (!LABEL.test(value)) {
    errs.push(`${JSON.stringify(value)} must consist of lower case alphanumeric characters or '-', and start and end with one (e.g. 'my-name')`);
  }
  return errs;
}

export function dns1035Label(value: string): string[] {
  const errs: string[] = [];
  if (value.length > 63) errs.push(`must be no more than 63 characters (it has ${value.length})`);
  if (!DNS1035_LABEL.test(value)) {
    errs.push(`${JSON.stringify(value)} must consist of lower case alphanumeric characters or '-', start with a letter and end with an alphanumeric (e.g. 'my-name')`);
  }
  return errs;
}

export function dns1123Subdomain(value: string): string[] {
  const errs: string[] = [];
  if (value.length > 253) errs.push(`must be no more than 253 characters (it has ${value.length})`);
  if (!SUBDOMAIN.test(value)) {
    errs.push(`${JSON.stringify(value)} must consist of lower case alphanumeric characters, '-' or '.', and start and end with an alphanumeric (e.g. 'example.com')`);
  }
  return errs;
}

/** A label or annotation key: `[prefix/]name`, the prefix a DNS subdomain. */
export function qualifiedName(key: string): string[] {
  const parts = key.split('/');
  if (parts.length > 2) return [`${JSON.stringify(key)} may contain at most one '/'`];
  const name = parts[parts.length - 1];
  const errs: string[] = [];
  if (parts.length === 2) {
    if (parts[0] === '') errs.push(`${JSON.stringify(key)}: the prefix before '/' must not be empty`);
    else errs.push(...dns1123Subdomain(parts[0]).map((e) => `prefix ${e}`));
  }
  if (name.length === 0) errs.push(`${JSON.stringify(key)}: the name part must not be empty`);
  else if (name.length > 63) errs.push(`${JSON.stringify(key)}: the name part must be no more than 63 characters`);
  else if (!QUALIFIED.test(name)) {
    errs.push(`${JSON.stringify(key)}: the name part must consist of alphanumeric characters, '-', '_' or '.', and start and end with an alphanumeric (e.g. 'app.kubernetes.io/name')`);
  }
  return errs;
}

export function labelValue(value: string): string[] {
  if (value === '') return [];
  if (value.length > 63) return [`${JSON.stringify(value)} must be no more than 63 characters`];
  if (!QUALIFIED.test(value)) {
    return [`${JSON.stringify(value)} must be empty or consist of alphanumeric characters, '-', '_' or '.', and start and end with an alphanumeric`];
  }
  return [];
}

const GENERATE_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

/** A random 5-character suffix, as Kubernetes' generateName uses. */
export function randomSuffix(length = 5): string {
  let out = '';
  for (let i = 0; i < length; i++) out += GENERATE_ALPHABET[Math.floor(Math.random() * GENERATE_ALPHABET.length)];
  return out;
}

export function generatedName(prefix: string): string {
  return `${prefix.slice(0, 58)}${randomSuffix()}`;
}
