/** Saving results and plots: files are built in the page and handed to the browser's download. */

export function download(name: string, data: Blob | string, type = 'application/octet-stream'): void {
  const blob = typeof data === 'string' ? new Blob([data], { type }) : data;
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** A standalone SVG document of a plot (plots style themselves with attributes, so it looks the same). */
export function svgText(svg: SVGSVGElement): string {
  const copy = svg.cloneNode(true) as SVGSVGElement;
  copy.setAttribute('xmlns', 'http://www.w3.org/2000/svg');
  const { width, height } = svg.viewBox.baseVal;
  if (width && height) {
    copy.setAttribute('width', String(width));
    copy.setAttribute('height', String(height));
  }
  copy.setAttribute('font-family', 'system-ui, sans-serif');
  copy.querySelectorAll('[data-no-export]').forEach((n) => n.remove());
  return new XMLSerializer().serializeToString(copy);
}

/** Render the SVG onto a white canvas at `scale`× and encode PNG. */
export async function svgToPng(svg: SVGSVGElement, scale = 2): Promise<Blob> {
  const text = svgText(svg);
  const { width, height } = svg.viewBox.baseVal;
  const img = new Image();
  const url = URL.createObjectURL(new Blob([text], { type: 'image/svg+xml' }));
  try {
    img.src = url;
    await img.decode();
    const canvas = document.createElement('canvas');
    canvas.width = Math.round(width * scale);
    canvas.height = Math.round(height * scale);
    const ctx = canvas.getContext('2d');
    if (!ctx) throw new Error('No 2D canvas.');
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.drawImage(img, 0, 0, canvas.width, canvas.height);
    return await new Promise<Blob>((resolve, reject) =>
      canvas.toBlob((b) => (b ? resolve(b) : reject(new Error('PNG encoding failed.'))), 'image/png'),
    );
  } finally {
    URL.revokeObjectURL(url);
  }
}

/** File-name-safe slug. */
export function slug(s: string): string {
  return (
    s
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-|-$/g, '') || 'plot'
  );
}
