// PEM armour (RFC 7468): DER bytes in base64 between BEGIN/END lines, one or many per text.

import type { Bytes } from "./der.ts";

export interface PemBlock {
  readonly label: string;
  readonly der: Bytes;
}

export function pemEncode(label: string, der: Bytes): string {
  let binary = "";
  for (const byte of der) binary += String.fromCharCode(byte);
  const lines = btoa(binary).match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

/** Every block in a text, in order (a trust bundle holds several CERTIFICATE blocks). */
export function pemDecodeAll(text: string): PemBlock[] {
  const blocks: PemBlock[] = [];
  const pattern = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;
  for (const match of text.matchAll(pattern)) {
    const binary = atob(match[2].replace(/\s+/g, ""));
    blocks.push({ label: match[1], der: Uint8Array.from(binary, (char) => char.charCodeAt(0)) });
  }
  return blocks;
}

/** The DER of the only block with `label`; throws if there is none or more than one. */
export function pemDecodeOne(text: string, label: string): Bytes {
  const found = pemDecodeAll(text).filter((block) => block.label === label);
  if (found.length !== 1) throw new Error(`expected one PEM ${label} block, found ${found.length}`);
  return found[0].der;
}
