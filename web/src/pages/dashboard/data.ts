/**
 * The dashboard's chart options and table columns, built from the statistics the API
 * answers. Pure functions of their input (and the translation function), so that what a
 * chart shows is exactly what the API said.
 */
import type { EChartsCoreOption } from 'echarts/core';

import type { ModelStat, TrendPoint } from '@/api/stats';
import { formatCompact, formatMicroUsd, formatNumber } from '@/utils/format';

export type TrendMetric = 'requests' | 'tokens' | 'cost';

type T = (key: string, named?: Record<string, unknown>) => string;

/** `MM-DD` of a `YYYY-MM-DD` bucket (hours: `HH:00` in the browser's zone). */
export function bucketLabel(p: TrendPoint): string {
  if (/^\d{4}-\d{2}-\d{2}$/.test(p.bucket)) return p.bucket.slice(5);
  const d = new Date(p.start);
  return `${String(d.getHours()).padStart(2, '0')}:00`;
}

/** The trend chart for one metric. */
export function trendOption(items: TrendPoint[], metric: TrendMetric, t: T): EChartsCoreOption {
  const x = items.map(bucketLabel);
  const base = {
    grid: { left: 8, right: 16, top: 40, bottom: 8, containLabel: true },
    tooltip: { trigger: 'axis' },
    legend: { top: 0, left: 0 },
    xAxis: { type: 'category', data: x, boundaryGap: metric !== 'cost' },
  };
  if (metric === 'requests') {
    return {
      ...base,
      yAxis: { type: 'value', minInterval: 1 },
      series: [
        { name: t('stats.requests'), type: 'bar', barMaxWidth: 18, data: items.map((p) => p.requests) },
        { name: t('stats.errors'), type: 'bar', barMaxWidth: 18, data: items.map((p) => p.errors) },
      ],
    };
  }
  if (metric === 'tokens') {
    const s = (name: string, pick: (p: TrendPoint) => number) => ({
      name,
      type: 'bar',
      stack: 'tokens',
      barMaxWidth: 18,
      data: items.map(pick),
    });
    return {
      ...base,
      yAxis: { type: 'value', axisLabel: { formatter: (v: number) => formatCompact(v) } },
      series: [
        s(t('tokens.input'), (p) => p.input_tokens),
        s(t('tokens.output'), (p) => p.output_tokens),
        s(t('tokens.cacheRead'), (p) => p.cache_read_input_tokens),
        s(t('tokens.cacheWrite'), (p) => p.cache_creation_input_tokens),
      ],
    };
  }
  return {
    ...base,
    tooltip: {
      trigger: 'axis',
      valueFormatter: (v: number) => formatMicroUsd(Math.round(v * 1_000_000)),
    },
    yAxis: { type: 'value', axisLabel: { formatter: (v: number) => `$${v}` } },
    series: [
      {
        name: t('stats.cost'),
        type: 'line',
        showSymbol: false,
        areaStyle: { opacity: 0.12 },
        data: items.map((p) => p.cost_micro_usd / 1_000_000),
      },
    ],
  };
}

/**
 * The accessible summary of the trend: its range and the last bucket's numbers (today, for
 * the default 30-day range).
 */
export function trendLabel(items: TrendPoint[], t: T, locale: string): string {
  const last = items[items.length - 1];
  if (!last) return t('dashboard.trendEmpty');
  const sum = items.reduce((a, p) => a + p.requests, 0);
  return t('dashboard.trendLabel', {
    from: items[0]?.bucket ?? '',
    to: last.bucket,
    total: formatNumber(sum, locale),
    requests: formatNumber(last.requests, locale),
    tokens: formatNumber(last.total_tokens, locale),
    cost: formatMicroUsd(last.cost_micro_usd, locale),
  });
}

/** The model share pie (by cost, or by requests when nothing cost anything). */
export function modelShareOption(models: ModelStat[], t: T): EChartsCoreOption {
  const byCost = models.some((m) => m.cost_micro_usd > 0);
  return {
    tooltip: {
      trigger: 'item',
      valueFormatter: (v: number) => (byCost ? formatMicroUsd(Math.round(v * 1_000_000)) : formatNumber(v)),
    },
    legend: { type: 'scroll', bottom: 0, left: 'center' },
    series: [
      {
        name: byCost ? t('stats.cost') : t('stats.requests'),
        type: 'pie',
        radius: ['42%', '68%'],
        center: ['50%', '44%'],
        itemStyle: { borderRadius: 6, borderWidth: 2, borderColor: 'transparent' },
        label: { show: false },
        data: models.map((m) => ({ name: m.model, value: byCost ? m.cost_micro_usd / 1_000_000 : m.requests })),
      },
    ],
  };
}

/** The accessible summary of the model share. */
export function modelShareLabel(models: ModelStat[], t: T, locale: string): string {
  if (!models.length) return t('dashboard.modelsEmpty');
  return t('dashboard.modelsLabel', {
    list: models.map((m) => `${m.model}: ${formatNumber(m.requests, locale)} / ${formatMicroUsd(m.cost_micro_usd, locale)}`).join('; '),
  });
}
