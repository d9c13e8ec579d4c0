import type { ScreenProps } from "../routes.js";
import { Page } from "../ui.js";

// Placeholder until the screen is built.
export default function Screen(_props: ScreenProps) {
  return (
    <Page title="flows">
      <p>Not built yet.</p>
    </Page>
  );
}
