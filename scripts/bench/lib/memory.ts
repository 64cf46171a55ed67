/** process.memoryUsage() after a full GC (twice, letting finalizers run between), when --expose-gc is on. */
export async function forcedGcMemory(): Promise<NodeJS.MemoryUsage & { gc: boolean }> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) {
    gc();
    await new Promise((r) => setTimeout(r, 50));
    gc();
  }
  return { ...process.memoryUsage(), gc: gc !== undefined };
}
