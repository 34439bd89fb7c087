/** The module specifiers an entry point of this package loads (`deno info`). */
export async function moduleSpecifiers(
  entry: string,
): Promise<{ specifier: string; size?: number }[]> {
  const root = new URL("../", import.meta.url);
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", new URL(entry, root).pathname],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!output.success) {
    throw new Error(new TextDecoder().decode(output.stderr));
  }
  const info = JSON.parse(new TextDecoder().decode(output.stdout)) as {
    modules: { specifier: string; size?: number }[];
  };
  return info.modules;
}
