import { open, stat } from "node:fs/promises";

/** The last `lines` records of the server log file, newest last; unparsable lines are skipped. */
export async function tailLog(
  file: string,
  lines: number,
  filter: { level?: number; event?: string } = {},
): Promise<unknown[]> {
  let size: number;
  try {
    size = (await stat(file)).size;
  } catch {
    return [];
  }
  const chunk = Math.min(size, 8 * 1024 * 1024);
  const handle = await open(file, "r");
  try {
    const buffer = Buffer.alloc(chunk);
    await handle.read(buffer, 0, chunk, size - chunk);
    const text = buffer.toString("utf8");
    const records: unknown[] = [];
    for (const line of text.split("\n").reverse()) {
      if (records.length >= lines) break;
      if (!line.startsWith("{")) continue;
      try {
        const record = JSON.parse(line) as { level?: number; event?: string };
        if (filter.level !== undefined && (record.level ?? 0) < filter.level) continue;
        if (filter.event !== undefined && record.event !== filter.event) continue;
        records.push(record);
      } catch {
        // a line cut at the chunk boundary, or being written
      }
    }
    return records.reverse();
  } finally {
    await handle.close();
  }
}
