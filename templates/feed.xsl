<?xml version="1.0" encoding="UTF-8"?>
<!--
  podseed: shows feed.xml as a readable page when a person opens it in a browser.
  Podcast apps ignore the xml-stylesheet processing instruction that points here.
  XSLT 1.0 (what browsers run); no external resources.
-->
<xsl:stylesheet version="1.0"
  xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
  xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"
  xmlns:atom="http://www.w3.org/2005/Atom">
<xsl:output method="html" encoding="UTF-8" indent="no"/>
<xsl:template match="/rss/channel">
<html lang="{language}">
<head>
<meta charset="utf-8"/>
<meta name="viewport" content="width=device-width, initial-scale=1"/>
<meta name="color-scheme" content="light dark"/>
<title><xsl:value-of select="title"/> (podcast feed)</title>
<style>
:root { --bg: #fbfaf7; --fg: #1d1b22; --muted: #5d5868; --card: #ffffff; --line: #e3e0e8; --accent: #5b3fc4; }
@media (prefers-color-scheme: dark) {
  :root { --bg: #16141c; --fg: #ece9f2; --muted: #a9a3b6; --card: #1f1c27; --line: #34303f; --accent: #b7a4ff; }
}
*, *::before, *::after { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg); font: 1.0625rem/1.6 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
.wrap { max-width: 46rem; margin: 0 auto; padding: 1.25rem 1rem 2rem; }
a { color: var(--accent); }
img { max-width: 100%; height: auto; }
.note { background: var(--card); border: 1px solid var(--line); border-radius: 0.75rem; padding: 0.75rem 1rem; }
.note code { overflow-wrap: anywhere; }
.head { display: flex; gap: 1rem; align-items: flex-start; }
.head img { width: 6rem; height: 6rem; border-radius: 0.5rem; flex: none; }
.head > div { min-width: 0; }
.item { border-top: 1px solid var(--line); padding: 0.75rem 0; }
.item h3 { margin: 0 0 0.2rem; font-size: 1.1rem; }
.meta { color: var(--muted); font-size: 0.9rem; margin: 0; }
</style>
</head>
<body>
<div class="wrap">
<p class="note">This is a <strong>podcast feed</strong>: the address a podcast app follows.
Copy it from the address bar, <code><xsl:value-of select="atom:link[@rel='self']/@href"/></code>,
into your app's “Add by URL”, or <a href="subscribe.html">see how to subscribe</a>.</p>
<div class="head">
  <xsl:if test="image/url">
    <img src="{image/url}" alt=""/>
  </xsl:if>
  <div>
    <h1><xsl:value-of select="title"/></h1>
    <xsl:if test="itunes:author">
      <p class="meta">by <xsl:value-of select="itunes:author"/></p>
    </xsl:if>
    <p><a href="{link}">The show's page</a></p>
  </div>
</div>
<h2>Episodes</h2>
<xsl:for-each select="item">
  <div class="item">
    <h3><a href="{link}"><xsl:value-of select="title"/></a></h3>
    <p class="meta"><xsl:value-of select="pubDate"/> · <a href="{enclosure/@url}">MP3</a></p>
  </div>
</xsl:for-each>
</div>
</body>
</html>
</xsl:template>
</xsl:stylesheet>
