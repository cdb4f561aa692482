// Package svgchart lays out simple charts (bars, grouped bars, a line) as
// geometry for an SVG template: every bar, point and axis tick with its
// coordinates, value and label. It draws nothing itself and escapes
// nothing: the caller renders the geometry with html/template, which
// escapes every label.
//
// It exists so that a report can hold charts that need no JavaScript and no
// network, whose numbers a test can read back from the page.
package svgchart

import (
	"math"
	"strconv"
)

// Frame is the drawing area of a chart, in SVG user units.
type Frame struct {
	// Width and Height are the whole chart's size.
	Width, Height float64
	// Left, Right, Top and Bottom are the margins around the plot area.
	Left, Right, Top, Bottom float64
}

// DefaultFrame suits a chart in a page column: 720 × 240 with room for
// axis labels.
var DefaultFrame = Frame{Width: 720, Height: 240, Left: 56, Right: 16, Top: 16, Bottom: 40}

// plot returns the plot area's size.
func (f Frame) plot() (w, h float64) { return f.Width - f.Left - f.Right, f.Height - f.Top - f.Bottom }

// Tick is one mark of the value axis.
type Tick struct {
	// Value is the tick's value; Label its text.
	Value int64
	Label string
	// Y is its position.
	Y float64
}

// Bar is one bar of a bar chart.
type Bar struct {
	// Series names the series the bar belongs to (its CSS class); Label is
	// its category; Value its value.
	Series, Label string
	Value         int64
	// X, Y, W and H place the bar; LabelX the centre of its category.
	X, Y, W, H float64
	LabelX     float64
}

// Point is one point of a line chart.
type Point struct {
	Label string
	Value int64
	X, Y  float64
}

// Chart is the laid-out geometry of one chart.
type Chart struct {
	Frame
	// Max is the value at the top of the axis.
	Max   int64
	Ticks []Tick
	Bars  []Bar
	// Points and Path (an SVG path "M x y L x y …") for a line chart.
	Points []Point
	Path   string
	// Categories are the labels along the category axis, some of them
	// left out (empty) when there are too many to read.
	Categories []Bar
	// Marker, when set, is a vertical line at MarkerX (e.g. a policy).
	Marker  string
	MarkerX float64
}

// Series is one named list of values, one per category.
type Series struct {
	Name   string
	Values []int64
}

// NiceMax returns the axis top for a largest value max: 1, 2 or 5 times a
// power of ten, at least max (and at least 1), and the tick step.
func NiceMax(max int64) (top, step int64) {
	if max < 1 {
		max = 1
	}
	mag := int64(math.Pow(10, math.Floor(math.Log10(float64(max)))))
	for _, m := range []int64{1, 2, 5, 10} {
		if m*mag >= max {
			top = m * mag
			break
		}
	}
	step = top / 5
	if top/mag == 2 || top/mag == 1 {
		step = top / 4
	}
	if step < 1 {
		step = 1
	}
	return top, step
}

// axis sets the chart's Max and Ticks for values up to max.
func (c *Chart) axis(max int64) {
	_, h := c.plot()
	top, step := NiceMax(max)
	c.Max = top
	for v := int64(0); v <= top; v += step {
		c.Ticks = append(c.Ticks, Tick{Value: v, Label: strconv.FormatInt(v, 10), Y: c.Top + h - float64(v)/float64(top)*h})
	}
}

// y returns the position of value v.
func (c *Chart) y(v int64) float64 {
	_, h := c.plot()
	return c.Top + h - float64(v)/float64(c.Max)*h
}

// labelEvery returns how often to label a category so that labels of
// width w (in units) do not overlap.
func labelEvery(n int, slot, w float64) int {
	if slot <= 0 || n == 0 {
		return 1
	}
	return max(1, int(math.Ceil(w/slot)))
}

// Bars lays out grouped bars: one group per category, one bar per series.
func Bars(f Frame, categories []string, series ...Series) Chart {
	c := Chart{Frame: f}
	var top int64
	for _, s := range series {
		for _, v := range s.Values {
			top = max(top, v)
		}
	}
	c.axis(top)
	w, _ := c.plot()
	if len(categories) == 0 {
		return c
	}
	slot := w / float64(len(categories))
	gap := slot * 0.2
	barW := (slot - gap) / float64(max(1, len(series)))
	every := labelEvery(len(categories), slot, 72)
	for i, label := range categories {
		x0 := c.Left + float64(i)*slot + gap/2
		for j, s := range series {
			var v int64
			if i < len(s.Values) {
				v = s.Values[i]
			}
			y := c.y(v)
			c.Bars = append(c.Bars, Bar{Series: s.Name, Label: label, Value: v,
				X: x0 + float64(j)*barW, Y: y, W: barW, H: c.Top + (c.Height - c.Top - c.Bottom) - y,
				LabelX: c.Left + (float64(i)+0.5)*slot})
		}
		cat := Bar{LabelX: c.Left + (float64(i)+0.5)*slot}
		if i%every == 0 {
			cat.Label = label
		}
		c.Categories = append(c.Categories, cat)
	}
	return c
}

// Line lays out a line through one value per category.
func Line(f Frame, categories []string, values []int64) Chart {
	c := Chart{Frame: f}
	var top int64
	for _, v := range values {
		top = max(top, v)
	}
	c.axis(top)
	w, _ := c.plot()
	if len(values) == 0 {
		return c
	}
	slot := w / float64(len(values))
	every := labelEvery(len(values), slot, 72)
	path := make([]byte, 0, 16*len(values))
	for i, v := range values {
		x := c.Left + (float64(i)+0.5)*slot
		p := Point{Value: v, X: x, Y: c.y(v)}
		if i < len(categories) {
			p.Label = categories[i]
		}
		c.Points = append(c.Points, p)
		if i == 0 {
			path = append(path, 'M')
		} else {
			path = append(path, " L"...)
		}
		path = strconv.AppendFloat(append(path, ' '), p.X, 'f', 1, 64)
		path = strconv.AppendFloat(append(path, ' '), p.Y, 'f', 1, 64)
		cat := Bar{LabelX: x}
		if i%every == 0 {
			cat.Label = p.Label
		}
		c.Categories = append(c.Categories, cat)
	}
	c.Path = string(path)
	return c
}

// Mark sets a vertical marker line between categories i-1 and i.
func (c *Chart) Mark(label string, i int) {
	w, _ := c.plot()
	if len(c.Categories) == 0 {
		return
	}
	slot := w / float64(len(c.Categories))
	c.Marker, c.MarkerX = label, c.Left+float64(i)*slot
}
