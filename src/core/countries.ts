/**
 * Country names in metadata (Dollar Street's `country.name`, GeoDE's `ip_country`) matched to the
 * names of Natural Earth's 1:110m outlines that world-atlas ships (`Dem. Rep. Congo`, `United States
 * of America`, `eSwatini`…): compared folded (lower case, no accents or punctuation, `rep` = `republic`),
 * with a short table of the usual other spellings.
 */

/** Other spellings → the world-atlas name. Keys are folded. */
const ALIASES: Record<string, string> = {
  'united states': 'United States of America',
  usa: 'United States of America',
  us: 'United States of America',
  'democratic republic of the congo': 'Dem. Rep. Congo',
  'dr congo': 'Dem. Rep. Congo',
  'congo kinshasa': 'Dem. Rep. Congo',
  'republic of the congo': 'Congo',
  'congo brazzaville': 'Congo',
  'ivory coast': "Côte d'Ivoire",
  'cote divoire': "Côte d'Ivoire",
  swaziland: 'eSwatini',
  eswatini: 'eSwatini',
  'czech republic': 'Czechia',
  'bosnia and herzegovina': 'Bosnia and Herz.',
  'central african republic': 'Central African Rep.',
  'dominican republic': 'Dominican Rep.',
  'south sudan': 'S. Sudan',
  'north macedonia': 'Macedonia',
  'east timor': 'Timor-Leste',
  'equatorial guinea': 'Eq. Guinea',
  'western sahara': 'W. Sahara',
  'solomon islands': 'Solomon Is.',
  'russian federation': 'Russia',
  'viet nam': 'Vietnam',
  'lao pdr': 'Laos',
  "lao people's democratic republic": 'Laos',
  'korea republic of': 'South Korea',
  'republic of korea': 'South Korea',
  burma: 'Myanmar',
  'united kingdom of great britain and northern ireland': 'United Kingdom',
  uk: 'United Kingdom',
  'great britain': 'United Kingdom',
  'palestinian territories': 'Palestine',
  'iran islamic republic of': 'Iran',
  'syrian arab republic': 'Syria',
  'tanzania united republic of': 'Tanzania',
  'united republic of tanzania': 'Tanzania',
  'bolivia plurinational state of': 'Bolivia',
  'venezuela bolivarian republic of': 'Venezuela',
  'moldova republic of': 'Moldova',
  'kyrgyz republic': 'Kyrgyzstan',
};

/** Lower case, accents and punctuation dropped, `rep` spelled out, single spaces. */
export function foldCountry(name: string): string {
  return name
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/['’]/g, '')
    .replace(/[^a-z0-9]+/g, ' ')
    .replace(/\brep\b/g, 'republic')
    .trim();
}

/**
 * A matcher from metadata country names to outline names (as given in `outlineNames`); unknown
 * names give null, so the view can list what is not on the map.
 */
export function countryMatcher(outlineNames: string[]): (name: string) => string | null {
  const byFolded = new Map(outlineNames.map((n) => [foldCountry(n), n]));
  return (name) => {
    const f = foldCountry(name);
    const direct = byFolded.get(f);
    if (direct) return direct;
    const alias = ALIASES[f] ?? ALIASES[f.replace(/\brepublic\b/g, 'rep')];
    return alias && byFolded.has(foldCountry(alias)) ? alias : null;
  };
}
