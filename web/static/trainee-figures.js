// Figures as people read them, for the trainee and program pages.

/** Hours as people say them: "45 min", "5 h", "3 days"; "not yet" when nothing was measured. */
export function hoursText(hours) {
  if (hours === null || hours === undefined) return "not yet";
  if (hours < 1) return `${Math.round(hours * 60)} min`;
  if (hours < 48) return `${Math.round(hours)} h`;
  return `${Math.round(hours / 24)} days`;
}
